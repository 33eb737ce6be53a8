using Fop.Research.Curvature;
using Fop.Research.Models;
using Fop.Research.Optim;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Fop.Research.Tests.Core;

/// <summary>BatchNorm semantics: ghost batches per chunk, running statistics once per step (or per chunk, by switch), untouched by refused steps; AsKfac is KFAC on a BatchNorm model.</summary>
public sealed class BatchNormTests
{
    static Sequential BnMlp(long seed)
    {
        torch.manual_seed(seed);
        var model = Sequential(("fc0", (Module<Tensor, Tensor>)Linear(5, 3)), ("bn", BatchNorm1d(3)), ("act", Tanh()), ("fc1", Linear(3, 4)));
        model.to(ScalarType.Float64);
        return model;
    }

    static Sequential BnConvNet(long seed)
    {
        torch.manual_seed(seed);
        var model = Sequential(("conv", (Module<Tensor, Tensor>)Conv2d(2, 3, 3, stride: 2, padding: 1)), ("bn", BatchNorm2d(3)), ("act", Tanh()),
            ("flat", Flatten()), ("fc", Linear(3 * 4 * 3, 4)));
        model.to(ScalarType.Float64);
        return model;
    }

    static Dictionary<string, Tensor> Buffers(Module model) => model.named_buffers().ToDictionary(b => b.name, b => b.buffer.detach().clone());

    [Theory]
    [InlineData(RunningStatistics.PerStep)]
    [InlineData(RunningStatistics.PerChunk)]
    public void RunningStatisticsMoveOncePerStepWithTheMeanOfTheChunksOrOncePerChunk(RunningStatistics mode)
    {
        var model = BnMlp(1);
        torch.manual_seed(2);
        var x = torch.randn(12, 5, dtype: ScalarType.Float64);
        var y = torch.randint(0, 4, [12]);
        var hidden = ((Linear)model[0]).call(x).detach();
        var chunks = Enumerable.Range(0, 3).Select(c => hidden.narrow(0, 4 * c, 4)).ToList();
        using var sgd = FirstOrderOptimizer.Sgd(model, new SgdOptions(0, false, 0), microBatchSize: 4);
        sgd.RunningStatistics = mode;
        Assert.False(sgd.Step(x, y, 0.0).Skipped);
        var bn = (BatchNorm1d)model[1];
        Tensor mean, variance;
        if (mode == RunningStatistics.PerStep)
        {
            mean = 0.1 * torch.stack(chunks.Select(c => c.mean([0])).ToArray()).mean([0]);
            variance = 0.9 + 0.1 * torch.stack(chunks.Select(c => c.var(0)).ToArray()).mean([0]);
        }
        else
        {
            (mean, variance) = (torch.zeros(3, dtype: ScalarType.Float64), torch.ones(3, dtype: ScalarType.Float64));
            foreach (var c in chunks) (mean, variance) = (0.9 * mean + 0.1 * c.mean([0]), 0.9 * variance + 0.1 * c.var(0));
        }
        Assert.True(TestModels.MaxAbs(bn.running_mean!, mean) < 1e-12, $"running_mean off by {TestModels.MaxAbs(bn.running_mean!, mean)}");
        Assert.True(TestModels.MaxAbs(bn.running_var!, variance) < 1e-12, $"running_var off by {TestModels.MaxAbs(bn.running_var!, variance)}");
        Assert.Equal(mode == RunningStatistics.PerStep ? 1 : 3, model.named_buffers().Single(b => b.name.EndsWith("num_batches_tracked")).buffer.item<long>());
    }

    [Theory]
    [InlineData(RunningStatistics.PerStep, "sgd")]
    [InlineData(RunningStatistics.PerChunk, "sgd")]
    [InlineData(RunningStatistics.PerStep, "fop")]
    [InlineData(RunningStatistics.PerChunk, "kfac")]
    public void ARefusedStepLeavesTheRunningStatisticsAsTheyWere(RunningStatistics mode, string optimizer)
    {
        var model = BnMlp(3);
        ModelOptimizer opt = optimizer switch
        {
            "sgd" => FirstOrderOptimizer.Sgd(model, new SgdOptions(0.9, false, 0), microBatchSize: 4),
            "kfac" => new Kfac(model, TestModels.Plain(), TailOptions.Plain, microBatchSize: 4),
            _ => new FopOptimizer(model, FopOptions.Paper, TestModels.Plain(), TailOptions.Plain, microBatchSize: 4),
        };
        using var _ = opt;
        opt.RunningStatistics = mode;
        torch.manual_seed(4);
        var y = torch.randint(0, 4, [12]);
        Assert.False(opt.Step(torch.randn(12, 5, dtype: ScalarType.Float64), y, 0.01).Skipped);
        var before = Buffers(model);
        var x = torch.randn(12, 5, dtype: ScalarType.Float64);
        x[10, 2] = torch.tensor(double.NaN);
        Assert.True(opt.Step(x, y, 0.01).Skipped);
        foreach (var (name, buffer) in model.named_buffers())
            Assert.True(torch.eq(buffer, before[name]).all().item<bool>(), $"{name} changed in a refused step");
    }

    [Theory]
    [InlineData(12L, 4L, 8L)] [InlineData(9L, 4L, 4L)] [InlineData(12L, 12L, 6L)] [InlineData(10L, 3L, 6L)] [InlineData(4L, 3L, 3L)] [InlineData(7L, 3L, 3L)]
    public void TheSplitAtAChunkBoundaryIsTheBoundaryNearestTheMiddle(long n, long chunk, long first)
    {
        Assert.Equal(first, new HalfBatchSplit(atChunkBoundary: true).FirstHalf(n, chunk));
        Assert.Equal(n / 2, HalfBatchSplit.Instance.FirstHalf(n, chunk));
    }

    [Theory]
    [InlineData(FisherType.Empirical, 12)]
    [InlineData(FisherType.MonteCarlo, 12)]
    [InlineData(FisherType.Empirical, 10)]
    public void AsKfacReproducesKfacOnABatchNormModelWithMicroBatches(FisherType fisher, int batch)
    {
        var options = TestModels.Plain(fisher, 0.02) with { CurvatureInterval = 2, InverseInterval = 2 };
        var m1 = BnConvNet(121);
        var m2 = BnConvNet(121);
        var m3 = BnConvNet(121);
        using var kfac = new Kfac(m1, options, TestModels.Momentum, microBatchSize: 4, seed: 3);
        using var fop = new FopOptimizer(m2, FopOptions.AsKfac, options, TestModels.Momentum, microBatchSize: 4, seed: 3);
        using var equalHalves = new FopOptimizer(m3, FopOptions.AsKfac with { SplitAtChunk = false }, options, TestModels.Momentum, microBatchSize: 4, seed: 3);
        torch.manual_seed(122);
        for (int step = 0; step < 4; step++)
        {
            var x = torch.randn(batch, 2, 7, 6, dtype: ScalarType.Float64);
            var y = torch.randint(0, 4, [batch]);
            kfac.Step(x, y, 0.1);
            fop.Step(x, y, 0.1);
            equalHalves.Step(x, y, 0.1);
            TestModels.AssertSameWeights(m1, m2, 1e-12, $"step {step}: ");
            var (b1, b2) = (Buffers(m1), Buffers(m2));
            foreach (var name in b1.Keys) Assert.True(TestModels.MaxAbs(b1[name], b2[name]) < 1e-12, $"step {step}: buffer {name}");
        }
        // Equal halves of 12 (or 10) chunked on their own give BatchNorm other ghost batches: not KFAC any more.
        Assert.True(TestModels.MaxAbs(m1.parameters().First(), m3.parameters().First()) > 1e-6);
    }
}
