using Fop.Research.Curvature;
using Fop.Research.Optim;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Fop.Research.Tests.Core;

/// <summary>
/// The factor conventions every CNN and ViT run depends on, against explicit float64 loops (no unfold): KFC for Conv2d
/// (A averaged over examples and output positions, G summed over positions and averaged over examples) and
/// K-FAC-expand for a Linear layer on token sequences (the same with tokens for positions).
/// </summary>
public sealed class FactorConventionTests
{
    /// <summary>conv (2->3, 3x3, stride 2, padding 1) -> tanh -> flatten -> linear (3*4*3 -> 4).</summary>
    internal static Sequential ConvNet(long seed, int stride = 2, int padding = 1)
    {
        torch.manual_seed(seed);
        var model = Sequential(
            ("conv", (Module<Tensor, Tensor>)Conv2d(2, 3, 3, stride: stride, padding: padding)),
            ("act", Tanh()), ("flat", Flatten()), ("fc", LazyFc(3 * Out(7, stride, padding) * Out(6, stride, padding), 4)));
        model.to(ScalarType.Float64);
        return model;
    }

    static Module<Tensor, Tensor> LazyFc(long inFeatures, long outFeatures) => Linear(inFeatures, outFeatures);
    static long Out(long size, int stride, int padding) => (size + 2 * padding - 3) / stride + 1;

    [Theory]
    [InlineData(2, 1)]
    [InlineData(1, 0)]
    public void ConvFactorsWithManyOutputPositionsMatchAnExplicitLoop(int stride, int padding)
    {
        var model = ConvNet(3, stride, padding);
        torch.manual_seed(5);
        int n = 3;
        var x = torch.randn(n, 2, 7, 6, dtype: ScalarType.Float64);
        var y = torch.tensor(new long[] { 0, 3, 1 });
        var curvature = TestModels.Factors(model, x, y, TestModels.Plain(), Likelihood.Categorical);
        int conv = curvature.Layers.ToList().FindIndex(l => l.Name == "conv");
        var convLayer = (Conv2d)model.named_children().First(c => c.name == "conv").module;

        long ho = Out(7, stride, padding), wo = Out(6, stride, padding), positions = ho * wo;
        Assert.True(positions > 1);
        // A: explicit patches a = [x_pad[c, i*s + ki, j*s + kj] for c, ki, kj] ++ [1], averaged over examples and positions.
        var xs = x.data<double>().ToArray();
        int inDim = 2 * 9 + 1;
        var aRef = new double[inDim, inDim];
        for (int e = 0; e < n; e++)
        for (long i = 0; i < ho; i++)
        for (long j = 0; j < wo; j++)
        {
            var a = new double[inDim];
            int k = 0;
            for (int c = 0; c < 2; c++)
            for (int ki = 0; ki < 3; ki++)
            for (int kj = 0; kj < 3; kj++)
            {
                long r = i * stride + ki - padding, q = j * stride + kj - padding;
                a[k++] = r >= 0 && r < 7 && q >= 0 && q < 6 ? xs[((e * 2 + c) * 7 + r) * 6 + q] : 0;
            }
            a[k] = 1;
            for (int u = 0; u < inDim; u++) for (int v = 0; v < inDim; v++) aRef[u, v] += a[u] * a[v] / (n * positions);
        }
        AssertClose(aRef, curvature.Factors[conv].A!, "A");

        // G: per example, the gradient of its own loss with respect to the conv output, outer products summed over positions.
        var gRef = new double[3, 3];
        for (int e = 0; e < n; e++)
        {
            var xe = x.narrow(0, e, 1);
            var o = functional.conv2d(xe, convLayer.weight!, convLayer.bias, strides: [stride, stride], padding: [padding, padding]).detach().requires_grad_();
            var rest = model.named_children().Skip(1).Select(c => (Module<Tensor, Tensor>)c.module).Aggregate(o, (h, m) => m.call(h));
            var loss = functional.cross_entropy(rest, y.narrow(0, e, 1), reduction: Reduction.Sum);
            var g = torch.autograd.grad([loss], [o])[0].data<double>().ToArray();       // (1, 3, ho, wo)
            for (long t = 0; t < positions; t++)
                for (int u = 0; u < 3; u++) for (int v = 0; v < 3; v++) gRef[u, v] += g[u * positions + t] * g[v * positions + t] / n;
        }
        AssertClose(gRef, curvature.Factors[conv].G!, "G");
    }

    /// <summary>Tokens (N, T, 4) -> linear (4 -> 5) -> tanh -> mean over tokens -> linear (5 -> 3): the ViT's use of Linear.</summary>
    sealed class TokenNet : Module<Tensor, Tensor>
    {
        public readonly Linear tokens, head;
        public TokenNet() : base("tokens")
        {
            tokens = Linear(4, 5);
            head = Linear(5, 3);
            RegisterComponents();
        }
        public override Tensor forward(Tensor x) => head.call(tokens.call(x).tanh().mean([1]));
    }

    [Fact]
    public void LinearFactorsOnTokenSequencesAreKfacExpand()
    {
        torch.manual_seed(7);
        var model = new TokenNet();
        model.to(ScalarType.Float64);
        int n = 3, t = 4;
        var x = torch.randn(n, t, 4, dtype: ScalarType.Float64);
        var y = torch.tensor(new long[] { 2, 0, 1 });
        var curvature = TestModels.Factors(model, x, y, TestModels.Plain(), Likelihood.Categorical);
        int layer = curvature.Layers.ToList().FindIndex(l => l.Name == "tokens");

        var xs = x.data<double>().ToArray();
        var aRef = new double[5, 5];
        for (int e = 0; e < n; e++)
        for (int s = 0; s < t; s++)
        {
            var a = Enumerable.Range(0, 4).Select(k => xs[(e * t + s) * 4 + k]).Append(1.0).ToArray();
            for (int u = 0; u < 5; u++) for (int v = 0; v < 5; v++) aRef[u, v] += a[u] * a[v] / (n * t);
        }
        AssertClose(aRef, curvature.Factors[layer].A!, "A (averaged over tokens)");

        var gRef = new double[5, 5];
        for (int e = 0; e < n; e++)
        {
            var o = functional.linear(x.narrow(0, e, 1), model.tokens.weight, model.tokens.bias).detach().requires_grad_();
            var loss = functional.cross_entropy(model.head.call(o.tanh().mean([1])), y.narrow(0, e, 1), reduction: Reduction.Sum);
            var g = torch.autograd.grad([loss], [o])[0].data<double>().ToArray();       // (1, t, 5)
            for (int s = 0; s < t; s++)
                for (int u = 0; u < 5; u++) for (int v = 0; v < 5; v++) gRef[u, v] += g[s * 5 + u] * g[s * 5 + v] / n;
        }
        AssertClose(gRef, curvature.Factors[layer].G!, "G (summed over tokens)");
    }

    [Theory]
    [InlineData(DampingForm.PiSplit)]
    [InlineData(DampingForm.Eigen)]
    public void DampedConvPreconditionerEqualsItsDenseDefinition(DampingForm form)
    {
        var model = ConvNet(11);
        torch.manual_seed(12);
        var x = torch.randn(4, 2, 7, 6, dtype: ScalarType.Float64);
        var y = torch.tensor(new long[] { 0, 1, 2, 3 });
        const double lambda = 0.03;
        var curvature = TestModels.Factors(model, x, y, TestModels.Plain(FisherType.Empirical, lambda, form), Likelihood.Categorical);
        int conv = curvature.Layers.ToList().FindIndex(l => l.Name == "conv");
        var a = curvature.Factors[conv].A!;
        var g = curvature.Factors[conv].G!;
        Tensor dense;
        if (form == DampingForm.PiSplit)
        {
            double pi = Math.Sqrt(a.trace().item<double>() / a.shape[0] / (g.trace().item<double>() / g.shape[0]));
            dense = torch.kron(a + torch.eye(a.shape[0], dtype: ScalarType.Float64) * (pi * Math.Sqrt(lambda)),
                               g + torch.eye(g.shape[0], dtype: ScalarType.Float64) * (Math.Sqrt(lambda) / pi));
        }
        else dense = torch.kron(a, g) + torch.eye(a.shape[0] * g.shape[0], dtype: ScalarType.Float64) * lambda;
        var v = torch.randn(g.shape[0], a.shape[0], dtype: ScalarType.Float64);
        // Column-major vec: vec(V) stacks V's columns.
        var expected = torch.linalg.solve(dense, v.t().reshape(-1)).reshape(a.shape[0], g.shape[0]).t();
        var p = curvature.Preconditioner(conv)!;
        Assert.True(TestModels.MaxAbs(p.Inverse(v), expected) < 1e-10, $"{form}: F^-1 V differs from the dense solve by {TestModels.MaxAbs(p.Inverse(v), expected)}");
        Assert.True(TestModels.MaxAbs(p.ToDense(), dense) < 1e-10);
    }

    internal static void AssertClose(double[,] expected, Tensor actual, string what, double tolerance = 1e-12)
    {
        int r = expected.GetLength(0), c = expected.GetLength(1);
        Assert.Equal([(long)r, c], actual.shape);
        var values = actual.to_type(ScalarType.Float64).data<double>().ToArray();
        double worst = 0;
        for (int i = 0; i < r; i++) for (int j = 0; j < c; j++) worst = Math.Max(worst, Math.Abs(values[i * c + j] - expected[i, j]));
        Assert.True(worst < tolerance, $"{what}: max deviation {worst}");
    }
}
