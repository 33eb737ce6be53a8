using Fop.Research.Curvature;
using Fop.Research.Optim;
using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Fop.Research.Tests;

/// <summary>fop-method.md §3 identities 1, 2, 8, 9: Kronecker factors against exact Fisher blocks, in float64.</summary>
public class KroneckerIdentityTests
{
    [Fact]
    public void OneExampleLinearKroneckerBlockEqualsExactFisher()
    {
        using var model = TestModels.Mlp(1, 4, 3, 3);
        var x = torch.randn(1, 4, dtype: ScalarType.Float64);
        var y = torch.tensor(new long[] { 2 });
        using var curvature = TestModels.Factors(model, x, y, TestModels.Plain(FisherType.Exact), Likelihood.Categorical);
        for (int i = 0; i < curvature.Layers.Count; i++)
        {
            var exact = TestModels.ExactFisherBlock(model, curvature.Layers[i], x, Likelihood.Categorical);
            var kron = curvature.Factors[i].ToDense();
            Assert.True(exact.abs().max().item<double>() > 1e-6, "exact block should not vanish");
            Assert.True(TestModels.MaxAbs(kron, exact) < 1e-12, $"{curvature.Layers[i].Name}: |kron(A,G) - F| = {TestModels.MaxAbs(kron, exact)}");
        }
    }

    [Fact]
    public void ABlockPreconditionsWithTheInverseOfItsDampedDenseFormAndRestoresItExactly()
    {
        using var model = TestModels.Mlp(3, 4, 3, 3);
        var x = torch.randn(8, 4, dtype: ScalarType.Float64);
        var y = torch.tensor(new long[] { 0, 1, 2, 0, 1, 2, 0, 1 });
        using var curvature = TestModels.Factors(model, x, y, TestModels.Plain(FisherType.Exact), Likelihood.Categorical);
        var block = curvature.Blocks[0];
        var warnings = new List<string>();
        var v = torch.randn(block.Layer.OutFeatures, block.Layer.InDim, dtype: ScalarType.Float64);
        // A block with no factors yet has nothing to decompose and preconditions with the plain gradient, said in a warning.
        using (var fresh = new CurvatureBlock(block.Layer))
        {
            Assert.False(fresh.Rebuild(DampingForm.PiSplit, 1e-3, 0, warnings));
            Assert.True(TestModels.MaxAbs(fresh.Precondition(v, warnings), v) == 0);
            Assert.Single(warnings);
        }
        Assert.True(block.Rebuild(DampingForm.PiSplit, 1e-3, 0, warnings));
        // F_damped^-1 vec(V) from the block's dense form, column-major vec: vec(V) = V^T flattened.
        var dense = block.Preconditioner!.ToDense();
        var expected = torch.linalg.solve(dense, v.t().reshape(-1)).reshape(block.Layer.InDim, block.Layer.OutFeatures).t();
        Assert.True(TestModels.MaxAbs(block.Precondition(v, warnings), expected) < 1e-10, "block inverse against its dense form");
        // Its checkpoint entries restore the same preconditioner into a fresh block.
        var state = new Dictionary<string, Tensor>();
        block.Save(state, CPU);
        Assert.Equal(["A", "G", "damping", "inverse_A", "inverse_G", "updates"], state.Keys.Select(k => k[block.Key.Length..]).Order());
        using var other = TestModels.Factors(model, x, y, TestModels.Plain(FisherType.Exact), Likelihood.Categorical);
        Assert.True(other.Blocks[0].Load(state, DampingForm.PiSplit));
        Assert.True(TestModels.MaxAbs(other.Blocks[0].Precondition(v, warnings), block.Precondition(v, warnings)) == 0);
        Assert.False(other.Blocks[1].Load(new Dictionary<string, Tensor>(), DampingForm.PiSplit));
    }

    [Fact]
    public void OneExampleEmpiricalFisherIsTheOuterProductOfTheGradient()
    {
        using var model = TestModels.Mlp(2, 4, 3, 3);
        var x = torch.randn(1, 4, dtype: ScalarType.Float64);
        var y = torch.tensor(new long[] { 1 });
        using var curvature = TestModels.Factors(model, x, y, TestModels.Plain(FisherType.Empirical), Likelihood.Categorical);
        new GradientPass(model, Likelihood.Categorical, 0).Accumulate(x, y, 1);
        for (int i = 0; i < curvature.Layers.Count; i++)
        {
            var g = curvature.Layers[i].GradientMatrix().t().reshape(-1);
            Assert.True(TestModels.MaxAbs(curvature.Factors[i].ToDense(), g.outer(g)) < 1e-12);
        }
    }

    [Theory]
    [InlineData(true, 1, 0, 1)]
    [InlineData(false, 2, 1, 2)]
    public void OneOutputPositionConvKroneckerBlockEqualsExactFisher(bool bias, int stride, int padding, int dilation)
    {
        // A kernel covering the whole (padded, dilated) input leaves exactly one output position.
        int k = 3, size = dilation * (k - 1) + 1 - 2 * padding;
        torch.manual_seed(3);
        var conv = Conv2d(2, 3, k, stride: stride, padding: padding, dilation: dilation, bias: bias);
        using var model = Sequential(("conv", conv), ("flat", Flatten()), ("fc", Linear(3, 4)));
        model.to(ScalarType.Float64);
        var x = torch.randn(1, 2, size, size, dtype: ScalarType.Float64);
        Assert.Equal(1, model.call(x).shape[0]);
        using var curvature = TestModels.Factors(model, x, torch.tensor(new long[] { 0 }), TestModels.Plain(FisherType.Exact), Likelihood.Categorical);
        var index = curvature.Layers.ToList().FindIndex(l => l.Conv is not null);
        var exact = TestModels.ExactFisherBlock(model, curvature.Layers[index], x, Likelihood.Categorical);
        Assert.True(TestModels.MaxAbs(curvature.Factors[index].ToDense(), exact) < 1e-12);
    }

    [Fact]
    public void DeepLinearNetworkKroneckerBlocksEqualExactBlocks()
    {
        using var model = TestModels.DeepLinear(4, 4, 3, 3, 2);
        var x = torch.randn(6, 4, dtype: ScalarType.Float64);
        var y = torch.randn(6, 2, dtype: ScalarType.Float64);
        using var curvature = TestModels.Factors(model, x, y, TestModels.Plain(FisherType.Exact), Likelihood.Gaussian);
        Assert.Equal(3, curvature.Layers.Count);
        for (int i = 0; i < curvature.Layers.Count; i++)
        {
            var exact = TestModels.ExactFisherBlock(model, curvature.Layers[i], x, Likelihood.Gaussian);
            Assert.True(TestModels.MaxAbs(curvature.Factors[i].ToDense(), exact) < 1e-11, $"{curvature.Layers[i].Name}: {TestModels.MaxAbs(curvature.Factors[i].ToDense(), exact)}");
        }
    }

    [Theory]
    [InlineData(DampingForm.PiSplit)]
    [InlineData(DampingForm.Eigen)]
    public void InverseUndoesMultiplyForTheDampedFactors(DampingForm form)
    {
        using var model = TestModels.Mlp(5, 6, 5, 3);
        var x = torch.randn(16, 6, dtype: ScalarType.Float64);
        var y = torch.randint(0, 3, 16);
        using var curvature = TestModels.Factors(model, x, y, TestModels.Plain(FisherType.Empirical, 0.03, form), Likelihood.Categorical);
        for (int i = 0; i < curvature.Layers.Count; i++)
        {
            var p = curvature.Preconditioner(i)!;
            var v = torch.randn(curvature.Layers[i].OutFeatures, curvature.Layers[i].InDim, dtype: ScalarType.Float64);
            Assert.True(TestModels.MaxAbs(p.Inverse(p.Multiply(v)), v) < 1e-9);
            // The dense form agrees with Multiply in the column-major vec convention.
            var dense = p.ToDense().mm(v.t().reshape(-1, 1)).reshape(v.shape[1], v.shape[0]).t();
            Assert.True(TestModels.MaxAbs(dense, p.Multiply(v)) < 1e-10);
        }
    }

    [Theory]
    [InlineData(DampingForm.PiSplit)]
    [InlineData(DampingForm.Eigen)]
    public void HugeDampingTendsToGradientOverDamping(DampingForm form)
    {
        using var model = TestModels.Mlp(6, 5, 4, 3);
        var x = torch.randn(8, 5, dtype: ScalarType.Float64);
        var y = torch.randint(0, 3, 8);
        double lambda = 1e8;
        using var curvature = TestModels.Factors(model, x, y, TestModels.Plain(FisherType.Empirical, lambda, form), Likelihood.Categorical);
        for (int i = 0; i < curvature.Layers.Count; i++)
        {
            var v = torch.randn(curvature.Layers[i].OutFeatures, curvature.Layers[i].InDim, dtype: ScalarType.Float64);
            var direction = curvature.Preconditioner(i)!.Inverse(v) * lambda;
            Assert.True(TestModels.MaxAbs(direction, v) / v.abs().max().item<double>() < 1e-3, $"relative error {TestModels.MaxAbs(direction, v)}");
        }
    }
}
