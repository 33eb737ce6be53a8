using Fop.Research.Curvature;
using Fop.Research.Optim;
using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Fop.Research.Tests.Core;

/// <summary>The cheaper-curvature switches estimate the full factors without bias: factors from a subset of the batch, conv patches from a subset of positions.</summary>
public sealed class CheapCurvatureTests
{
    static KfacCurvature Gather(Module<Tensor, Tensor> model, Tensor x, Tensor y, KfacOptions options, long seed) =>
        TestModels.Factors(model, x, y, options, Likelihood.Categorical, seed);

    [Fact]
    public void FactorsFromASubsetOfExamplesAreUnbiased()
    {
        var model = TestModels.Mlp(131, 5, 4, 3);
        torch.manual_seed(132);
        var x = torch.randn(12, 5, dtype: ScalarType.Float64);
        var y = torch.randint(0, 3, [12]);
        var full = Gather(model, x, y, TestModels.Plain(), 0);
        var subset = TestModels.Plain() with { FactorExamples = 4 };
        var draws = Enumerable.Range(0, 300).Select(r => Gather(model, x, y, subset, r)).ToList();
        for (int l = 0; l < full.Layers.Count; l++)
        {
            TestModels.AssertUnbiased(draws.Select(d => d.Factors[l].A!).ToList(), full.Factors[l].A!, $"{full.Layers[l].Name} A");
            TestModels.AssertUnbiased(draws.Select(d => d.Factors[l].G!).ToList(), full.Factors[l].G!, $"{full.Layers[l].Name} G");
        }
        // A subset as large as the batch is the batch.
        var all = Gather(model, x, y, TestModels.Plain() with { FactorExamples = 100 }, 7);
        for (int l = 0; l < full.Layers.Count; l++)
        {
            Assert.True(TestModels.MaxAbs(all.Factors[l].A!, full.Factors[l].A!) < 1e-12);
            Assert.True(TestModels.MaxAbs(all.Factors[l].G!, full.Factors[l].G!) < 1e-12);
        }
    }

    [Fact]
    public void ConvFactorsFromASubsetOfPositionsAreUnbiasedAndLeaveGAlone()
    {
        var model = FactorConventionTests.ConvNet(141);
        torch.manual_seed(142);
        var x = torch.randn(4, 2, 7, 6, dtype: ScalarType.Float64);
        var y = torch.tensor(new long[] { 0, 1, 2, 3 });
        var full = Gather(model, x, y, TestModels.Plain(), 0);
        int conv = full.Layers.ToList().FindIndex(l => l.Name == "conv");
        var sampled = TestModels.Plain() with { ConvPositions = 3 };     // 3 of the 12 output positions
        var draws = Enumerable.Range(0, 300).Select(r => Gather(model, x, y, sampled, r)).ToList();
        TestModels.AssertUnbiased(draws.Select(d => d.Factors[conv].A!).ToList(), full.Factors[conv].A!, "conv A");
        Assert.True(TestModels.MaxAbs(draws[0].Factors[conv].G!, full.Factors[conv].G!) < 1e-12, "G does not depend on the positions kept for A");
        int fc = full.Layers.ToList().FindIndex(l => l.Name == "fc");
        Assert.True(TestModels.MaxAbs(draws[0].Factors[fc].A!, full.Factors[fc].A!) < 1e-12, "a Linear layer has no positions to drop");
    }

    [Theory]
    [InlineData("kfac")]
    [InlineData("fop")]
    public void SubsetCurvatureTrainsAndLeavesTheGradientAlone(string kind)
    {
        // The gradient step is the full batch's: with identical factors (subset = whole batch) the run equals the plain one.
        var options = TestModels.Plain(FisherType.Empirical, 0.05);
        var m1 = TestModels.Mlp(151, 6, 5, 4);
        var m2 = TestModels.Mlp(151, 6, 5, 4);
        using ModelOptimizer a = kind == "kfac" ? new Kfac(m1, options, TailOptions.Plain) : new FopOptimizer(m1, FopOptions.Paper, options, TailOptions.Plain);
        using ModelOptimizer b = kind == "kfac" ? new Kfac(m2, options with { FactorExamples = 64 }, TailOptions.Plain) : new FopOptimizer(m2, FopOptions.Paper, options with { FactorExamples = 64 }, TailOptions.Plain);
        torch.manual_seed(152);
        for (int step = 0; step < 3; step++)
        {
            var x = torch.randn(10, 6, dtype: ScalarType.Float64);
            var y = torch.randint(0, 4, [10]);
            a.Step(x, y, 0.1);
            Assert.False(b.Step(x, y, 0.1).Skipped);
            TestModels.AssertSameWeights(m1, m2, 1e-10, $"step {step}: ");
        }
    }

    [Fact]
    public void FactorErrorIsZeroForFullStatisticsAndShrinksWithLargerSubsets()
    {
        var model = FactorConventionTests.ConvNet(161);
        torch.manual_seed(162);
        var x = torch.randn(40, 2, 7, 6, dtype: ScalarType.Float64);
        var y = torch.randint(0, 4, [40]);
        var full = TestModels.Plain(FisherType.Empirical);
        Assert.All(Research.Diagnostics.FactorError.Compare(model, x, y, full, full with { FactorExamples = 40 }, draws: 2), e => Assert.True(e.AError < 1e-12 && e.GError < 1e-12, e.ToString()));
        var small = Research.Diagnostics.FactorError.Compare(model, x, y, full, full with { FactorExamples = 5, ConvPositions = 2 }, draws: 8);
        var large = Research.Diagnostics.FactorError.Compare(model, x, y, full, full with { FactorExamples = 30, ConvPositions = 8 }, draws: 8);
        Assert.Equal(["conv", "fc"], small.Select(e => e.Layer));
        for (int l = 0; l < small.Count; l++)
        {
            Assert.True(small[l].AError > large[l].AError && small[l].GError > large[l].GError, $"{small[l]} vs {large[l]}");
            Assert.True(large[l].AError > 0 && large[l].GError > 0);
        }
    }
}
