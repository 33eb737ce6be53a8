using Fop.Research.Curvature;
using Fop.Research.Optim;
using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Fop.Research.Tests;

/// <summary>fop-method.md §3 identities 3-7 and the eta bounds, on one layer's matrices and on whole optimizers.</summary>
public class FopIdentityTests
{
    static (KroneckerPreconditioner P, Tensor G1, Tensor G2) Layer(long seed, DampingForm form = DampingForm.PiSplit)
    {
        torch.manual_seed(seed);
        var a = torch.randn(6, 6, dtype: ScalarType.Float64);
        var g = torch.randn(4, 4, dtype: ScalarType.Float64);
        var p = KroneckerPreconditioner.Build(form, a.mm(a.t()) / 6, g.mm(g.t()) / 4, 0.05, "layer");
        return (p, torch.randn(4, 6, dtype: ScalarType.Float64), torch.randn(4, 6, dtype: ScalarType.Float64));
    }

    static double Dot(Tensor a, Tensor b) => KroneckerPreconditioner.Dot(a, b);

    [Theory]
    [InlineData(DampingForm.PiSplit, true)]
    [InlineData(DampingForm.Eigen, true)]
    [InlineData(DampingForm.PiSplit, false)]
    public void PerpendicularComponentIsFisherOrthogonalToTheMean(DampingForm form, bool damped)
    {
        var (p, g1, g2) = Layer(1, form);
        var o = FopOptions.Paper with { DampedProjection = damped, Eps = 0 };
        var r = FisherOrthogonalProjection.Compute("l", g1, g2, p, o, diagnostics: true, lr: 1);
        var gAvg = (g1 + g2) / 2;
        var gPerp = (g1 - g2) - gAvg * r.Diagnostics.S;
        var f = damped ? p.Multiply(gAvg) : p.MultiplyRaw(gAvg);
        Assert.True(Math.Abs(Dot(gPerp, f)) < 1e-10 * Math.Sqrt(Dot(gPerp, gPerp) * Dot(f, f)), $"<g_avg, F g_perp> = {Dot(gPerp, f)}");
    }

    [Fact]
    public void AdaptiveBetaMinimisesTheQuadraticModel()
    {
        var (p, g1, g2) = Layer(2);
        var r = FisherOrthogonalProjection.Compute("l", g1, g2, p, FopOptions.Paper, true, 1);
        var gAvg = (g1 + g2) / 2;
        var gPerp = (g1 - g2) - gAvg * r.Diagnostics.S;
        var pp = p.Inverse(gPerp);
        double d = Dot(gAvg, pp), e = Dot(gPerp, pp);
        double J(double b) => -b * d + b * b * e / 2;
        double beta = r.Diagnostics.Beta;
        Assert.Equal(d / e, beta, 12);
        foreach (var delta in new[] { 1e-3, -1e-3, 0.1, -0.1 }) Assert.True(J(beta) < J(beta + delta));
    }

    [Theory]
    [InlineData(DampingForm.PiSplit)]
    [InlineData(DampingForm.Eigen)]
    public void SwappingTheHalvesLeavesTheUpdateUnchanged(DampingForm form)
    {
        var (p, g1, g2) = Layer(3, form);
        var a = FisherOrthogonalProjection.Compute("l", g1, g2, p, FopOptions.Paper, true, 1);
        var b = FisherOrthogonalProjection.Compute("l", g2, g1, p, FopOptions.Paper, true, 1);
        Assert.True(TestModels.MaxAbs(a.Update, b.Update) < 1e-12);
        Assert.Equal(a.Diagnostics.Eta, b.Diagnostics.Eta, 12);
    }

    [Fact]
    public void EqualHalvesGiveBetaZeroAndTheKfacUpdate()
    {
        var (p, g1, _) = Layer(4);
        var r = FisherOrthogonalProjection.Compute("l", g1, g1.clone(), p, FopOptions.Paper, true, 1);
        Assert.Equal(0.0, r.Diagnostics.Beta);
        Assert.Equal(1.0, r.Diagnostics.Eta, 12);
        Assert.True(TestModels.MaxAbs(r.Update, p.Inverse(g1)) < 1e-12);
    }

    [Theory]
    [InlineData(EtaReference.Average, 1.0 / 3, 1.0)]
    [InlineData(EtaReference.Sum, 2.0 / 3, 2.0)]
    public void EtaStaysWithinItsBounds(EtaReference reference, double low, double high)
    {
        for (int seed = 10; seed < 30; seed++)
        {
            var (p, g1, g2) = Layer(seed);
            var eta = FisherOrthogonalProjection.Compute("l", g1, g2, p, FopOptions.Paper with { EtaReference = reference }, false, 1).Diagnostics.Eta;
            Assert.InRange(eta, low + 1e-12, high + 1e-12);
        }
    }

    [Fact]
    public void EtaClampIsApplied()
    {
        var (p, g1, g2) = Layer(5);
        var eta = FisherOrthogonalProjection.Compute("l", g1, g2, p, FopOptions.Paper with { EtaMin = 0.99, EtaMax = 0.995 }, false, 1).Diagnostics.Eta;
        Assert.InRange(eta, 0.99, 0.995);
    }

    [Fact]
    public void KlTermsAddUpToTheUpdatesFisherNorm()
    {
        var (p, g1, g2) = Layer(6);
        double lr = 0.3;
        var r = FisherOrthogonalProjection.Compute("l", g1, g2, p, FopOptions.Paper, true, lr);
        var delta = r.Update * lr;
        double total = Dot(delta, p.MultiplyRaw(delta));
        var d = r.Diagnostics;
        Assert.Equal(total, d.KlBase + d.KlCross + d.KlOrthogonal, 10);
    }

    [Theory]
    [InlineData(FisherType.Empirical, DampingForm.PiSplit, null, 12, false)]
    [InlineData(FisherType.Empirical, DampingForm.Eigen, 0.9, 12, false)]
    [InlineData(FisherType.Empirical, DampingForm.PiSplit, null, 11, false)]   // odd batch: halves of 5 and 6, weighted by size
    [InlineData(FisherType.MonteCarlo, DampingForm.PiSplit, 0.9, 13, false)]
    [InlineData(FisherType.Empirical, DampingForm.PiSplit, null, 12, true)]    // projection off, layer scale on: eta is exactly 1
    [InlineData(FisherType.MonteCarlo, DampingForm.Eigen, null, 11, true)]
    public void AsKfacReproducesTheKfacOptimizerStepAfterStep(FisherType fisher, DampingForm form, double? ema, int batch, bool layerScaleOn)
    {
        var options = TestModels.Plain(fisher, 0.02, form) with { EmaDecay = ema, CurvatureInterval = 2, InverseInterval = 4 };
        using var m1 = TestModels.Mlp(7, 6, 5, 4);
        using var m2 = TestModels.Mlp(7, 6, 5, 4);
        using var kfac = new Kfac(m1, options, TestModels.Momentum);
        var fopOptions = layerScaleOn ? FopOptions.Paper with { Projection = false } : FopOptions.AsKfac;
        using var fop = new FopOptimizer(m2, fopOptions, options, TestModels.Momentum);
        torch.manual_seed(8);
        for (int step = 0; step < 7; step++)
        {
            var x = torch.randn(batch, 6, dtype: ScalarType.Float64);
            var y = torch.randint(0, 4, batch);
            kfac.Step(x, y, 0.1);
            fop.Step(x, y, 0.1);
            TestModels.AssertSameWeights(m1, m2, 1e-12, $"step {step} ");
        }
    }

    [Fact]
    public void ProjectionOffIsKfacEvenWithTheLayerScaleOn()
    {
        var (p, g1, g2) = Layer(9);
        var r = FisherOrthogonalProjection.Compute("l", g1, g2, p, FopOptions.Paper with { Projection = false }, false, 1);
        Assert.Equal(1.0, r.Diagnostics.Eta);
        Assert.Equal(2.0, FisherOrthogonalProjection.Compute("l", g1, g2, p, FopOptions.Paper with { Projection = false, EtaReference = EtaReference.Sum }, false, 1).Diagnostics.Eta);
        Assert.True(TestModels.MaxAbs(r.Update, p.Inverse((g1 + g2) / 2)) < 1e-12);
    }

    [Fact]
    public void FixedBetaIsUsedAsGiven()
    {
        var (p, g1, g2) = Layer(11);
        var r = FisherOrthogonalProjection.Compute("l", g1, g2, p, FopOptions.Paper with { Beta = BetaRule.Fixed, FixedBeta = 0.25, LayerScale = false }, false, 1);
        var gAvg = (g1 + g2) / 2;
        var gPerp = (g1 - g2) - gAvg * r.Diagnostics.S;
        Assert.Equal(0.25, r.Diagnostics.Beta);
        Assert.True(TestModels.MaxAbs(r.Update, p.Inverse(gAvg + gPerp * 0.25)) < 1e-12);
    }
}
