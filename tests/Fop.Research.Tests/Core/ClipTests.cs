using Fop.Research.Curvature;
using Fop.Research.Optim;
using TorchSharp;
using static TorchSharp.torch;
using Fop.Research.Devices;

namespace Fop.Research.Tests.Core;

/// <summary>KL clipping and gradient clipping against their formulas, measured from the steps the optimizers take.</summary>
public sealed class ClipTests
{
    static (Tensor X, Tensor Y) Batch(int seed)
    {
        torch.manual_seed(seed);
        return (torch.randn(10, 6, dtype: ScalarType.Float64), torch.randint(0, 4, [10]));
    }

    /// <summary>The full step (w0 - w1) / lr of every parameter, and the mean-loss gradient at w0.</summary>
    static (Dictionary<string, Tensor> Direction, Dictionary<string, Tensor> Gradient) Measure(ModelOptimizer opt, TorchSharp.Modules.Sequential model, Tensor x, Tensor y, double lr)
    {
        var w0 = TestModels.Snapshot(model);
        var gradient = new Dictionary<string, Tensor>();
        foreach (var p in model.parameters()) { using var gr = p.grad; gr?.zero_(); }
        Likelihood.Categorical.LossSum(model.call(x), y).div(x.shape[0]).backward();
        foreach (var (name, p) in model.named_parameters()) { using var gr = p.grad!; gradient[name] = gr.detach().clone(); }
        foreach (var p in model.parameters()) { using var gr = p.grad; gr?.zero_(); }
        opt.Step(x, y, lr);
        return (model.named_parameters().ToDictionary(p => p.name, p => (w0[p.name] - p.parameter.detach()) / lr), gradient);
    }

    [Fact]
    public void KlClipScalesTheStepByNuFromItsFormula()
    {
        const double lr = 0.2, kappa = 1e-4;
        var (x, y) = Batch(71);
        var plain = TestModels.Mlp(72, 6, 5, 4);
        var clipped = TestModels.Mlp(72, 6, 5, 4);
        using var a = new Kfac(plain, TestModels.Plain(damping: 0.05), TailOptions.Plain);
        using var b = new Kfac(clipped, TestModels.Plain(damping: 0.05) with { KlClip = kappa }, TailOptions.Plain);
        var (delta, g) = Measure(a, plain, x, y, lr);
        var (deltaClipped, _) = Measure(b, clipped, x, y, lr);
        // nu = min(1, sqrt(kappa / |sum_l lr^2 <Delta_l, g_l>|)), the sum over the layers' weight and bias entries.
        double vg = delta.Keys.Sum(k => (delta[k] * g[k]).sum().item<double>()) * lr * lr;
        double nu = Math.Min(1, Math.Sqrt(kappa / Math.Abs(vg)));
        Assert.True(nu < 0.9, $"kappa too large to clip (nu = {nu})");
        foreach (var k in delta.Keys) Assert.True(TestModels.MaxAbs(deltaClipped[k], delta[k] * nu) < 1e-12, $"{k}: the clipped step is not nu times the plain one");
    }

    [Fact]
    public void ANonFiniteKlClipFactorIsNeverOne()
    {
        var tail = new NaturalGradientTail(KfacOptions.Paper with { KlClip = 1e-3 }, TailOptions.Paper);
        var nan = torch.full(3, 3, double.NaN, dtype: ScalarType.Float64);
        var ones = torch.ones(3, 3, dtype: ScalarType.Float64);
        Assert.True(double.IsNaN(HostReads.Scalar(tail.KlClipFactor([(nan, ones)], 0.1)!)));
        Assert.Null(new NaturalGradientTail(KfacOptions.Paper, TailOptions.Paper).KlClipFactor([(nan, ones)], 0.1));   // off: no factor
        var zeros = torch.zeros(3, 3, dtype: ScalarType.Float64);
        Assert.Equal(1.0, HostReads.Scalar(tail.KlClipFactor([(zeros, ones)], 0.1)!));              // a zero step is not clipped
    }

    [Theory]
    [InlineData("kfac")]
    [InlineData("sgd")]
    public void GradientClipScalesTheWholeStepToTheLimit(string kind)
    {
        const double lr = 0.1;
        var (x, y) = Batch(81);
        var plain = TestModels.Mlp(82, 6, 5, 4);
        var clipped = TestModels.Mlp(82, 6, 5, 4);
        ModelOptimizer Make(TorchSharp.Modules.Sequential m, double? clip) => kind == "kfac"
            ? new Kfac(m, TestModels.Plain(damping: 0.05), TailOptions.Plain with { GradClip = clip })
            : FirstOrderOptimizer.Sgd(m, new SgdOptions(0, false, 0), gradClip: clip);
        using var a = Make(plain, null);
        var (delta, _) = Measure(a, plain, x, y, lr);
        double norm = Math.Sqrt(delta.Values.Sum(d => d.square().sum().item<double>()));
        double limit = norm * 0.4;
        using var b = Make(clipped, limit);
        var (deltaClipped, _) = Measure(b, clipped, x, y, lr);
        foreach (var k in delta.Keys) Assert.True(TestModels.MaxAbs(deltaClipped[k], delta[k] * (limit / norm)) < 1e-12, k);
        // Below the limit nothing changes.
        var same = TestModels.Mlp(82, 6, 5, 4);
        using var c = Make(same, norm * 2);
        var (deltaUnclipped, _) = Measure(c, same, x, y, lr);
        foreach (var k in delta.Keys) Assert.True(TestModels.MaxAbs(deltaUnclipped[k], delta[k]) < 1e-12, k);
    }
}
