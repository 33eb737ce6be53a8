using Fop.Research.Optim;
using Fop.Research.Teaching;
using TorchSharp;
using static TorchSharp.torch;

namespace Fop.Research.Tests.Teaching;

/// <summary>The two-weight teaching problems against autograd in float64, and the identities the teaching notebook shows.</summary>
public class TeachingTests
{
    static readonly Vec2 W = new(0.7, -0.4);

    // The same losses written independently as torch expressions, differentiated by autograd.
    static Tensor TorchLoss(TwoWeightProblem p, Tensor w)
    {
        var x = tensor(p.Inputs.SelectMany(r => r).ToArray(), float64).reshape(p.Count, p.Inputs[0].Length);
        var y = tensor(p.Targets, float64);
        var f = p.Inputs[0].Length == 2 ? x.matmul(w) : w[1] * torch.tanh(w[0] * x[.., 0]);
        return p.Noise == OutputNoise.Gaussian ? 0.5 * (f - y).pow(2).mean() : nn.functional.binary_cross_entropy_with_logits(f, y);
    }

    public static TheoryData<string> Names() => new() { "quadratic", "logistic", "tiny" };

    static TwoWeightProblem Make(string name) => name switch
    {
        "quadratic" => Problems.IllConditionedQuadratic(),
        "logistic" => Problems.LogisticRegression(),
        _ => Problems.TinyTwoLayerNet(),
    };

    [Theory]
    [MemberData(nameof(Names))]
    public void LossGradientAndHessianMatchAutograd(string name)
    {
        var p = Make(name);
        using var scope = torch.NewDisposeScope();
        var w = tensor(W.ToArray(), float64).requires_grad_(true);
        var loss = TorchLoss(p, w);
        Assert.Equal(loss.item<double>(), p.Loss(W), 12);
        var g = torch.autograd.grad([loss], [w], retain_graph: true, create_graph: true)[0];
        var mine = p.Gradient(W);
        Assert.Equal(g[0].item<double>(), mine.X, 12);
        Assert.Equal(g[1].item<double>(), mine.Y, 12);
        var h = p.Hessian(W);
        // TorchSharp needs retain_graph and create_graph both set for a second backward.
        var row0 = torch.autograd.grad([g[0]], [w], retain_graph: true, create_graph: true)[0];
        var row1 = torch.autograd.grad([g[1]], [w], retain_graph: true, create_graph: true)[0];
        Assert.Equal(row0[0].item<double>(), h.A, 10);
        Assert.Equal(row0[1].item<double>(), h.B, 10);
        Assert.Equal(row1[0].item<double>(), h.C, 10);
        Assert.Equal(row1[1].item<double>(), h.D, 10);
    }

    [Fact]
    public void FisherIsTheGaussNewtonMatrixOfPerExampleJacobians()
    {
        var p = Problems.TinyTwoLayerNet(count: 40);
        double a = 0, b = 0, d = 0;
        using var scope = torch.NewDisposeScope();
        for (int i = 0; i < p.Count; i++)
        {
            var w = tensor(W.ToArray(), float64).requires_grad_(true);
            var f = w[1] * torch.tanh(w[0] * p.Inputs[i][0]);
            var j = torch.autograd.grad([f], [w])[0];
            double j0 = j[0].item<double>(), j1 = j[1].item<double>();
            a += j0 * j0 / p.Count; b += j0 * j1 / p.Count; d += j1 * j1 / p.Count;
        }
        var fisher = p.Fisher(W);
        Assert.Equal(a, fisher.A, 12);
        Assert.Equal(b, fisher.B, 12);
        Assert.Equal(d, fisher.D, 12);
        var kfac = p.KfacMatrix(W);
        Assert.Equal(0, kfac.B);                                    // KFAC drops the cross-layer block
        Assert.NotEqual(0, fisher.B, 6);
        Assert.NotEqual(p.Hessian(W).A, fisher.A, 6);                // a net: the Hessian is not the Fisher
    }

    [Fact]
    public void OnLinearAndLogisticRegressionTheHessianIsTheFisher()
    {
        foreach (var p in new[] { Problems.IllConditionedQuadratic(), Problems.LogisticRegression() })
        {
            var (h, f) = (p.Hessian(W), p.Fisher(W));
            Assert.Equal(h.A, f.A, 12); Assert.Equal(h.B, f.B, 12); Assert.Equal(h.D, f.D, 12);
        }
        var q = Problems.IllConditionedQuadratic();
        var (kq, fq) = (q.KfacMatrix(W), q.Fisher(W));
        Assert.Equal(fq.A, kq.A, 12); Assert.Equal(fq.B, kq.B, 12); Assert.Equal(fq.D, kq.D, 12);   // one layer, one output, Gaussian: KFAC is exact
        var eig = fq.SymmetricEigen();
        Assert.InRange(eig.First.Value / eig.Second.Value, 25, 100);                                  // ill-conditioned as asked (50 in expectation)
    }

    [Fact]
    public void OneNewtonStepSolvesTheQuadraticAndNaturalGradientAndKfacAreNewtonThere()
    {
        var p = Problems.IllConditionedQuadratic();
        var o = new TrajectoryOptions { Lr = 1, Steps = 1, Damping = 1e-12 };
        var path = PlaneSteps.Trajectory(p, TeachingMethod.Newton, o);
        using var scope = torch.NewDisposeScope();
        var x = tensor(p.Inputs.SelectMany(r => r).ToArray(), float64).reshape(p.Count, 2);
        var solution = torch.linalg.lstsq(x, tensor(p.Targets, float64).reshape(p.Count, 1)).Solution;
        Assert.Equal(solution[0, 0].item<double>(), path[1].X, 8);
        Assert.Equal(solution[1, 0].item<double>(), path[1].Y, 8);
        var batch = p.All;
        var newton = PlaneSteps.Direction(p, TeachingMethod.Newton, W, batch, o with { Damping = 1e-3 });
        foreach (var m in new[] { TeachingMethod.NaturalGradient, TeachingMethod.Kfac })
        {
            var d = PlaneSteps.Direction(p, m, W, batch, o with { Damping = 1e-3 });
            Assert.Equal(newton.X, d.X, 10);
            Assert.Equal(newton.Y, d.Y, 10);
        }
    }

    [Fact]
    public void FopPictureIsFisherOrthogonalAndItsStepIsTheLibrarysFormula()
    {
        var p = Problems.LogisticRegression();
        var batch = Enumerable.Range(0, 41).ToArray();                    // odd: halves of 21 and 20
        var o = new TrajectoryOptions { Damping = 1e-2 };
        var pic = PlaneSteps.Picture(p, W, batch, o);
        Assert.True(Math.Abs(pic.FisherCosine) < 1e-10, $"cos_F(g_perp, g_avg) = {pic.FisherCosine}");
        double share = 21.0 / 41;
        Assert.Equal(share * pic.G1.X + (1 - share) * pic.G2.X, pic.GAvg.X, 12);
        Assert.Equal((p.Gradient(W, batch)).Y, pic.GAvg.Y, 12);              // the weighted halves are the batch mean
        var layer = Assert.Single(pic.Layers);
        var comb = pic.GAvg + layer.Beta * pic.GPerp;
        var expected = layer.Eta * pic.Fisher.Solve(comb);
        Assert.Equal(expected.X, pic.FopDirection.X, 9);
        Assert.Equal(expected.Y, pic.FopDirection.Y, 9);
        var kfac = PlaneSteps.Direction(p, TeachingMethod.Kfac, W, batch, o);
        Assert.Equal(pic.Fisher.Solve(pic.GAvg).X, kfac.X, 9);                 // the dense damped block inverts like the preconditioner
        var asKfac = PlaneSteps.Picture(p, W, batch, o with { Fop = FopOptions.AsKfac });
        Assert.Equal(kfac.X, asKfac.FopDirection.X, 12);
        Assert.Equal(kfac.Y, asKfac.FopDirection.Y, 12);
    }

    [Fact]
    public void MomentumWithoutMomentumIsGradientDescentAndBadOptionsAreRefused()
    {
        var p = Problems.TinyTwoLayerNet();
        var o = new TrajectoryOptions { Lr = 0.3, Steps = 10, BatchSize = 32, Seed = 3 };
        var gd = PlaneSteps.Trajectory(p, TeachingMethod.GradientDescent, o);
        var m0 = PlaneSteps.Trajectory(p, TeachingMethod.Momentum, o with { Momentum = 0 });
        Assert.Equal(gd, m0);
        Assert.Equal(11, gd.Count);
        Assert.Throws<ArgumentOutOfRangeException>(() => PlaneSteps.Trajectory(p, TeachingMethod.Fop, o with { BatchSize = 1 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => PlaneSteps.Trajectory(p, TeachingMethod.Newton, o with { Damping = 0 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => PlaneSteps.Trajectory(p, TeachingMethod.Momentum, o with { Momentum = 1 }));
    }
}
