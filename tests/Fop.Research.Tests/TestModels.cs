using Fop.Research.Curvature;
using Fop.Research.Optim;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Fop.Research.Tests;

/// <summary>Tiny float64 models and exact references shared by the math tests.</summary>
internal static class TestModels
{
    public static Sequential Mlp(long seed, params int[] widths)
    {
        torch.manual_seed(seed);
        var layers = new List<(string, Module<Tensor, Tensor>)>();
        for (int i = 0; i + 1 < widths.Length; i++)
        {
            layers.Add(($"fc{i}", Linear(widths[i], widths[i + 1])));
            if (i + 2 < widths.Length) layers.Add(($"tanh{i}", Tanh()));
        }
        var model = Sequential(layers);
        model.to(ScalarType.Float64);
        return model;
    }

    public static Sequential DeepLinear(long seed, params int[] widths)
    {
        torch.manual_seed(seed);
        var model = Sequential(Enumerable.Range(0, widths.Length - 1).Select(i => ($"fc{i}", (Module<Tensor, Tensor>)Linear(widths[i], widths[i + 1]))).ToList());
        model.to(ScalarType.Float64);
        return model;
    }

    /// <summary>KFAC options for exact float64 comparisons: fresh factors and inverses every step (with <see cref="TailOptions.Plain"/>: no momentum, no weight decay).</summary>
    public static KfacOptions Plain(FisherType fisher = FisherType.Empirical, double damping = 0.01, DampingForm form = DampingForm.PiSplit) => new()
    {
        Fisher = fisher, Damping = damping, DampingForm = form, CurvatureInterval = 1, InverseInterval = 1, EmaDecay = null,
    };

    /// <summary>A tail with momentum 0.9 and weight decay 1e-3, no clipping: what state-carrying comparisons step with.</summary>
    public static TailOptions Momentum { get; } = TailOptions.Plain with { Sgd = new SgdOptions(0.9, false, 1e-3) };

    /// <summary>Gathers Kronecker factors of every layer on (x, y) in one pass (from a subset when the options ask for one).</summary>
    public static KfacCurvature Factors(Module<Tensor, Tensor> model, Tensor x, Tensor y, KfacOptions options, Likelihood likelihood, long seed = 0) =>
        Research.Diagnostics.FactorError.Factors(model, x, y, options, likelihood, seed);

    /// <summary>
    /// The exact Fisher block of <paramref name="layer"/>: (1/N) sum_n J_n^T H_n J_n with J_n the Jacobian of example n's outputs
    /// with respect to the layer matrix (column-major vec) and H_n the likelihood's output Fisher.
    /// </summary>
    public static Tensor ExactFisherBlock(Module<Tensor, Tensor> model, PreconditionedLayer layer, Tensor x, Likelihood likelihood)
    {
        long n = x.shape[0];
        Tensor? sum = null;
        for (long i = 0; i < n; i++)
        {
            var xi = x.narrow(0, i, 1);
            var outputs = model.call(xi);
            long k = outputs.shape[1];
            var rows = new List<Tensor>();
            for (long j = 0; j < k; j++)
            {
                foreach (var p in model.parameters()) { using var g = p.grad; g?.zero_(); }
                var o = model.call(xi);
                o[0, j].backward();
                rows.Add(layer.GradientMatrix().t().reshape(-1));
            }
            var jac = torch.stack(rows);                         // (K, P)
            var h = OutputFisher(outputs.detach()[0], likelihood);  // (K, K)
            var block = jac.t().mm(h).mm(jac);
            sum = sum is null ? block : sum + block;
        }
        foreach (var p in model.parameters()) { using var g = p.grad; g?.zero_(); }
        return sum! / n;
    }

    static Tensor OutputFisher(Tensor outputs, Likelihood likelihood)
    {
        if (ReferenceEquals(likelihood, Likelihood.Gaussian)) return torch.eye(outputs.shape[0], dtype: ScalarType.Float64);
        var p = torch.nn.functional.softmax(outputs, 0);
        return torch.diag(p) - p.outer(p);
    }

    /// <summary>Asserts that two models' parameters agree to <paramref name="tolerance"/> (0: bit-identical), naming the first that does not.</summary>
    public static void AssertSameWeights(Module a, Module b, double tolerance, string label = "")
    {
        foreach (var ((n, pa), (_, pb)) in a.named_parameters().Zip(b.named_parameters()))
            Assert.True(MaxAbs(pa, pb) <= tolerance, $"{label}{n}: {MaxAbs(pa, pb)}");
    }

    /// <summary>Asserts that the mean of random draws lies within 3 standard errors of <paramref name="expected"/> in every entry, and that the draws vary.</summary>
    public static void AssertUnbiased(IReadOnlyList<Tensor> draws, Tensor expected, string what)
    {
        var stack = torch.stack(draws);
        var mean = stack.mean([0]);
        var se = stack.std([0]) / Math.Sqrt(draws.Count);
        var z = ((mean - expected).abs() / (se + 1e-15)).max().item<double>();
        Assert.True(z < 3, $"{what}: the mean of {draws.Count} draws is {z:F2} standard errors from the expected value");
        Assert.True(se.max().item<double>() > 1e-8, $"{what}: the draws do not vary, so the test would prove nothing");
    }

    public static double MaxAbs(Tensor a, Tensor b) => (a.to_type(ScalarType.Float64) - b.to_type(ScalarType.Float64)).abs().max().item<double>();

    public static Dictionary<string, Tensor> Snapshot(Module model) => model.named_parameters().ToDictionary(p => p.name, p => p.parameter.detach().clone());
}
