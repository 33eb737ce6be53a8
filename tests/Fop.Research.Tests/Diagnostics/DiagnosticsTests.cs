using Fop.Research.Curvature;
using Fop.Research.Diagnostics;
using Fop.Research.Optim;
using Fop.Research.Training;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;
using Fop.Research.Randomness;

namespace Fop.Research.Tests.Diagnostics;

/// <summary>Landscapes, sharpness and gradient noise against cases whose answers are known.</summary>
public sealed class DiagnosticsTests : IDisposable
{
    readonly string dir = Directory.CreateTempSubdirectory("fop-diag-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    [Fact]
    public void FilterNormalisedDirectionsMatchEachFiltersNormAndLeaveBiasesAtZero()
    {
        var model = Core.FactorConventionTests.ConvNet(1);
        using var theta = ParameterVector.Of(model);
        using var g = new SeededRandom(3);
        using var d = LossLandscape.FilterNormalized(theta, g);
        foreach (var name in theta.Names)
        {
            var w = theta[name];
            if (w.dim() >= 2)
            {
                var expected = w.flatten(1).norm(1, keepdim: false);
                var actual = d[name].flatten(1).norm(1, keepdim: false);
                Assert.True(TestModels.MaxAbs(expected, actual) < 1e-9, $"{name}: filter norms differ");
            }
            else Assert.Equal(0, d[name].abs().max().item<double>());
        }
        using var g2 = new SeededRandom(3);
        using var withBias = LossLandscape.FilterNormalized(theta, g2, includeBiasAndNorm: true);
        Assert.Equal(theta["conv.bias"].norm().item<double>(), withBias["conv.bias"].norm().item<double>(), 9);
    }

    [Fact]
    public void TheLandscapeAtZeroIsTheEvaluationLossAndInterpolationEndsAtEachSolution()
    {
        var a = TestModels.Mlp(5, 6, 8, 4);
        var b = TestModels.Mlp(6, 6, 8, 4);
        torch.manual_seed(7);
        var x = torch.randn(50, 6, dtype: ScalarType.Float64);
        var y = torch.randint(0, 4, [50]);
        double Direct(Module<Tensor, Tensor> m) { using var _ = torch.no_grad(); return functional.cross_entropy(m.call(x), y).item<double>(); }
        using var landscape = new LossLandscape(a, x, y, batchSize: 50);
        using var g = new SeededRandom(1);
        using var d = landscape.FilterNormalizedDirection(g);
        Assert.Equal(landscape.Evaluate().Loss, landscape.At(d, 0).Loss);
        Assert.Equal(Direct(a), landscape.At(d, 0).Loss, 12);
        using var other = ParameterVector.Of(b);
        var curve = landscape.Interpolate("a->b", other, [0.0, 1.0, 0.5]);
        Assert.Equal(Direct(a), curve.Points[0].Loss, 12);
        Assert.Equal(Direct(b), curve.Points[1].Loss, 12);
        Assert.Equal(Direct(a), landscape.Evaluate().Loss, 12);     // theta is restored
        var grid = landscape.Grid("g", d, d, [0.0, 0.5], [0.0, -0.5]);
        Assert.Equal(Direct(a), grid.Points[1, 1].Loss, 12);       // 0.5 d - 0.5 d = theta
    }

    static (Sequential Model, Tensor X, Tensor Y, Tensor Hessian) LinearRegression()
    {
        torch.manual_seed(11);
        var model = Sequential(("fc", (Module<Tensor, Tensor>)Linear(6, 1, hasBias: false)));
        model.to(ScalarType.Float64);
        var scales = torch.tensor(new[] { 3.0, 2.0, 1.5, 1.0, 0.7, 0.4 }, dtype: ScalarType.Float64);
        var x = torch.randn(200, 6, dtype: ScalarType.Float64) * scales;
        var y = torch.randn(200, 1, dtype: ScalarType.Float64);
        return (model, x, y, x.t().mm(x) / 200);    // loss (1/N) sum 1/2 (w.x - y)^2 has Hessian X^T X / N
    }

    [Fact]
    public void PowerIterationFindsTheTopEigenvaluesOfAKnownHessian()
    {
        var (model, x, y, h) = LinearRegression();
        var exact = torch.linalg.eigvalsh(h).data<double>().OrderDescending().ToArray();
        using var g = new SeededRandom(2);
        var top = Sharpness.TopEigenvalues(model, x, y, count: 2, maxIterations: 500, tolerance: 1e-12, random: g, likelihood: Likelihood.Gaussian);
        Assert.Equal(exact[0], top[0], 6);
        Assert.Equal(exact[1], top[1], 5);
    }

    [Fact]
    public void HutchinsonsTraceIsWithinAFewPercentOnAKnownHessian()
    {
        var (model, x, y, h) = LinearRegression();
        using var g = new SeededRandom(4);
        var (trace, se) = Sharpness.HutchinsonTrace(model, x, y, samples: 300, random: g, likelihood: Likelihood.Gaussian);
        double exact = h.trace().item<double>();
        Assert.True(Math.Abs(trace - exact) < 0.05 * exact, $"trace {trace} vs {exact}");
        Assert.True(Math.Abs(trace - exact) < 4 * se, $"trace {trace} vs {exact}, standard error {se}");
    }

    [Theory]
    [InlineData(8, 8)]
    [InlineData(7, 11)]
    public void NoiseEstimatorsAreUnbiasedOnSyntheticGradientsWithAKnownCovariance(int n1, int n2)
    {
        // Per-example gradients g_n = G + e_n, e_n ~ N(0, diag(s^2)); g1, g2 are the means over the two parts.
        var G = torch.tensor(new[] { 0.5, -0.3, 0.2, 0.0, 0.1 }, dtype: ScalarType.Float64);
        var s = torch.tensor(new[] { 1.0, 0.5, 2.0, 0.3, 1.2 }, dtype: ScalarType.Float64);
        double normSq = G.square().sum().item<double>(), trace = s.square().sum().item<double>();
        using var gen = new SeededRandom(21);
        const int draws = 4000;
        var norms = new double[draws];
        var traces = new double[draws];
        for (int r = 0; r < draws; r++)
        {
            var e = gen.Normal([n1 + n2, 5], torch.CPU, ScalarType.Float64) * s + G;
            var g1 = e.narrow(0, 0, n1).mean([0]);
            var g2 = e.narrow(0, n1, n2).mean([0]);
            var est = NoiseEstimate.FromParts([g1], [g2], n1, n2);
            norms[r] = est.GradientNormSq;
            traces[r] = est.TraceSigma;
        }
        static (double Mean, double Se) Stats(double[] v) { double m = v.Average(); return (m, Math.Sqrt(v.Sum(x => (x - m) * (x - m)) / (v.Length - 1) / v.Length)); }
        var (nm, nse) = Stats(norms);
        var (tm, tse) = Stats(traces);
        Assert.True(Math.Abs(nm - normSq) < 3 * nse, $"|G|^2: {nm} vs {normSq} (se {nse})");
        Assert.True(Math.Abs(tm - trace) < 3 * tse, $"tr Sigma: {tm} vs {trace} (se {tse})");
    }

    [Fact]
    public void TheNormTestSplitsIntoTheInnerProductAndOrthogonalityTests()
    {
        torch.manual_seed(31);
        var g1 = torch.randn(20, dtype: ScalarType.Float64);
        var g2 = g1 + torch.randn(20, dtype: ScalarType.Float64) * 0.5;
        var e = NoiseEstimate.FromParts([g1], [g2], 16, 16);
        Assert.Equal(e.NormTest, e.InnerProductTest + e.OrthogonalityTest, 12);
        var avg = (g1 + g2) / 2;
        Assert.Equal((g1 - g2).square().sum().item<double>() / 4 / avg.square().sum().item<double>(), e.NormTest, 12);
        Assert.Equal(torch.nn.functional.cosine_similarity(g1, g2, 0).item<double>(), e.Cosine, 12);
    }

    [Theory]
    [InlineData(1.0, 0.0)]     // f(t) = (t - 1)^2: the step lands on the minimum
    [InlineData(0.5, 1.0)]     // (t - 0.5)^2: it overshoots to the mirror point
    [InlineData(2.0, -0.5)]    // (t - 2)^2: half-way from the start to the minimum
    public void AlphaPlacesTheStepOnItsParabola(double minimum, double expected)
    {
        double F(double t) => (t - minimum) * (t - minimum);
        Assert.Equal(expected, StepAlpha.Compute(F(0), F(1), 2 * (1 - minimum)), 12);
        Assert.True(double.IsNaN(StepAlpha.Compute(0, 1, 0.5)));       // concave: no minimum
    }

    [Fact]
    public void TheFopPlanePutsTheSgdStepAtOneZeroAndLeavesTheModelUnchanged()
    {
        var model = TestModels.Mlp(41, 6, 8, 4);
        torch.manual_seed(42);
        var x = torch.randn(32, 6, dtype: ScalarType.Float64);
        var y = torch.randint(0, 4, [32]);
        using var before = ParameterVector.Of(model);
        using var landscape = new LossLandscape(model, x, y);
        var plane = FopPlaneView.Compute(model, () => TestModels.Mlp(0, 6, 8, 4), x, y, landscape, TestModels.Plain(FisherType.Empirical, 0.05), FopOptions.Paper, 0.1, gridSize: 5);
        var sgd = plane.Steps.Single(s => s.Label == "sgd");
        Assert.Equal(1.0, sgd.A, 9);
        Assert.Equal(0.0, sgd.B, 9);
        Assert.True(sgd.OutOfPlane < 1e-9);
        Assert.Equal(5, plane.Surface.Alphas.Count);
        Assert.True(plane.PerpToAvgRatio > 0);
        using var after = ParameterVector.Of(model);
        Assert.Equal(0, after.Combine(1, before, -1).Norm());
    }

    [Fact]
    public void NoiseIsLoggedPerLayerWithoutChangingTheTrajectory()
    {
        Trainer Train(string optimizer, string name, int interval)
        {
            var config = Reliability.ResumeAndRecordTests.SmallRun(dir, optimizer, $"name={name}", $"noise_interval={interval}");
            using var data = RunData.Load(config);
            var trainer = new Trainer(config, data);
            trainer.Run(Path.Combine(dir, name));
            return trainer;
        }
        foreach (var optimizer in new[] { "sgd", "fop" })
        {
            var with = Train(optimizer, $"{optimizer}-noise", 2);
            var without = Train(optimizer, $"{optimizer}-plain", 0);
            TestModels.AssertSameWeights(without.Model!, with.Model!, 0, $"{optimizer}: measuring noise changed the trajectory: ");
            var rows = File.ReadAllLines(Path.Combine(dir, $"{optimizer}-noise", "noise.csv"));
            Assert.Equal(NoiseLog.Header, rows[0]);
            var all = rows.Skip(1).Where(r => r.Split(',')[2] == "all").ToList();
            Assert.Equal(5, all.Count);                                   // steps 0, 2, 4, 6, 8
            Assert.Contains(rows, r => r.Split(',')[2] == "layers.0");
            Assert.True(double.Parse(all[1].Split(',')[12], System.Globalization.CultureInfo.InvariantCulture) > 0);   // distance from init
            Assert.Contains(all, r => double.IsFinite(double.Parse(r.Split(',')[13], System.Globalization.CultureInfo.InvariantCulture)));   // alpha
            var byLayer = Research.Plots.Views.NoiseViews.ByLayer(Path.Combine(dir, $"{optimizer}-noise"))!;
            var cos = (Research.Plots.Figures.HeatmapPanel)byLayer.Panels[1];
            Assert.Contains("layers.0", cos.Rows);
            Assert.Equal([0.0, 2, 4, 6, 8], cos.X);
            var first = rows.Skip(1).Select(r => r.Split(',')).First(r => r[2] == "layers.0" && r[0] == "2");
            Assert.Equal(double.Parse(first[7], System.Globalization.CultureInfo.InvariantCulture), cos.Z[Array.IndexOf(cos.Rows, "layers.0")][1], 12);
            Assert.Null(Research.Plots.Views.NoiseViews.ByLayer(Path.Combine(dir, $"{optimizer}-plain")));
        }
    }
}
