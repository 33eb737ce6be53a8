using Fop.Research.Curvature;
using Fop.Research.Data;
using Fop.Research.Optim;
using TorchSharp;
using static TorchSharp.torch;
using Fop.Research.Randomness;

namespace Fop.Research.Tests.Core;

/// <summary>The Monte-Carlo Fisher, the paper's default: the sampler draws from softmax(outputs), its G converges to the exact one, and one KFAC step matches an independent reference.</summary>
public sealed class MonteCarloFisherTests
{
    [Fact]
    public void SampledLabelFrequenciesMatchTheSoftmax()
    {
        // Chi-square goodness of fit at a fixed seed, df = 4; 18.47 is the 0.999 quantile.
        foreach (var logits in new[] { new[] { 0.3, -1.0, 2.0, 0.0, 0.5 }, new[] { -2.0, -2.0, 3.0, 1.0, -0.5 } })
        {
            const int m = 20000;
            var outputs = torch.tensor(logits, dtype: ScalarType.Float64).unsqueeze(0).expand(m, 5).contiguous();
            using var g = new SeededRandom(42, RandomPurpose.MonteCarloLabels, 0);
            var counts = torch.bincount(Likelihood.Categorical.Sample(outputs, g), minlength: 5).data<long>().ToArray();
            var p = torch.nn.functional.softmax(outputs[0], 0).data<double>().ToArray();
            double chi2 = counts.Select((c, k) => (c - m * p[k]) * (c - m * p[k]) / (m * p[k])).Sum();
            Assert.True(chi2 < 18.47, $"chi-square {chi2:F2} for logits [{string.Join(", ", logits)}]");
        }
    }

    [Fact]
    public void TheMeanOfSampledGConvergesToTheExactG()
    {
        var model = TestModels.Mlp(21, 4, 3, 3);
        torch.manual_seed(22);
        var x = torch.randn(6, 4, dtype: ScalarType.Float64);
        var y = torch.randint(0, 3, [6]);
        var exact = TestModels.Factors(model, x, y, TestModels.Plain(FisherType.Exact), Likelihood.Categorical);
        var draws = Enumerable.Range(0, 600).Select(r =>
        {
            var curvature = TestModels.Factors(model, x, y, TestModels.Plain(FisherType.MonteCarlo), Likelihood.Categorical, seed: r);
            var g = curvature.Factors.Select(f => f.G!.clone()).ToArray();
            curvature.Dispose();
            return g;
        }).ToList();
        for (int l = 0; l < exact.Layers.Count; l++)
            TestModels.AssertUnbiased(draws.Select(d => d[l]).ToList(), exact.Factors[l].G!, $"{exact.Layers[l].Name}: sampled G against the exact G");
    }

    [Fact]
    public void OneMonteCarloKfacStepMatchesAnIndependentReferenceGivenTheSameSampledLabels()
    {
        const double lambda = 0.05, lr = 0.3;
        const long seed = 9;
        var model = TestModels.Mlp(31, 5, 4, 3);
        torch.manual_seed(32);
        var x = torch.randn(7, 5, dtype: ScalarType.Float64);
        var y = torch.randint(0, 3, [7]);
        var w = model.named_parameters().ToDictionary(p => p.name, p => p.parameter.detach().clone());

        // The labels the optimizer's sampler draws at step 0 (the one thing both sides share).
        Tensor sampled;
        using (torch.no_grad())
        using (var g = new SeededRandom(seed, RandomPurpose.MonteCarloLabels, 0))
            sampled = Likelihood.Categorical.Sample(model.call(x), g);

        // Reference: manual forward and backward of the 5-4-3 tanh MLP, factors from their definitions, pi-split damping, one solve per side.
        int n = 7;
        var h0 = x;
        var s1 = h0.mm(w["fc0.weight"].t()) + w["fc0.bias"];
        var h1 = s1.tanh();
        var s2 = h1.mm(w["fc1.weight"].t()) + w["fc1.bias"];
        var prob = torch.nn.functional.softmax(s2, 1);
        Tensor OneHot(Tensor labels) => torch.nn.functional.one_hot(labels, 3).to_type(ScalarType.Float64);
        var d2 = prob - OneHot(y);                                   // per-example dloss/ds2 (true labels: the gradient)
        var d1 = d2.mm(w["fc1.weight"]) * (1 - h1.square());
        var d2s = prob - OneHot(sampled);                            // sampled labels: the Fisher
        var d1s = d2s.mm(w["fc1.weight"]) * (1 - h1.square());
        Tensor WithOnes(Tensor h) => torch.cat([h, torch.ones(n, 1, dtype: ScalarType.Float64)], 1);
        var expected = new Dictionary<string, Tensor>();
        foreach (var (name, input, delta, deltaSampled) in new[] { ("fc0", h0, d1, d1s), ("fc1", h1, d2, d2s) })
        {
            var a = WithOnes(input);
            var aFactor = a.t().mm(a) / n;
            var gFactor = deltaSampled.t().mm(deltaSampled) / n;
            var grad = delta.t().mm(a) / n;                          // (out, in + 1): weight and bias columns
            double pi = Math.Sqrt(aFactor.trace().item<double>() / aFactor.shape[0] / (gFactor.trace().item<double>() / gFactor.shape[0]));
            var aD = aFactor + torch.eye(aFactor.shape[0], dtype: ScalarType.Float64) * (pi * Math.Sqrt(lambda));
            var gD = gFactor + torch.eye(gFactor.shape[0], dtype: ScalarType.Float64) * (Math.Sqrt(lambda) / pi);
            var v = torch.linalg.solve(aD, torch.linalg.solve(gD, grad).t()).t();       // G^-1 grad A^-1 (A symmetric)
            var inDim = input.shape[1];
            expected[$"{name}.weight"] = w[$"{name}.weight"] - v.narrow(1, 0, inDim) * lr;
            expected[$"{name}.bias"] = w[$"{name}.bias"] - v.narrow(1, inDim, 1).reshape(-1) * lr;
        }

        using var kfac = new Kfac(model, TestModels.Plain(FisherType.MonteCarlo, lambda), TailOptions.Plain, seed: seed);
        kfac.Step(x, y, lr);
        foreach (var (name, p) in model.named_parameters())
            Assert.True(TestModels.MaxAbs(p, expected[name]) < 1e-10, $"{name}: {TestModels.MaxAbs(p, expected[name])}");
        // The sampled labels differ from the true ones here, so the test distinguishes the Monte-Carlo from the empirical Fisher.
        Assert.False(sampled.eq(y).all().item<bool>());
    }
}
