using Fop.Research.Curvature;
using Fop.Research.Optim;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Fop.Research.Tests.Core;

/// <summary>Micro-batching is invisible to every optimizer and Fisher; the degenerate FOP configurations are KFAC exactly, on a conv model too.</summary>
public sealed class MicroBatchAndAblationTests
{
    static Sequential Model(string kind, long seed) => kind == "mlp" ? TestModels.Mlp(seed, 6, 5, 4) : FactorConventionTests.ConvNet(seed);

    static Tensor Inputs(string kind, int n) => kind == "mlp" ? torch.randn(n, 6, dtype: ScalarType.Float64) : torch.randn(n, 2, 7, 6, dtype: ScalarType.Float64);

    static ModelOptimizer Create(string optimizer, Sequential model, int micro)
    {
        var kfac = TestModels.Plain(optimizer.EndsWith("-mc") ? FisherType.MonteCarlo : FisherType.Empirical, 0.03);
        return optimizer switch
        {
            "sgd" => FirstOrderOptimizer.Sgd(model, new SgdOptions(0.9, true, 1e-3), microBatchSize: micro),
            "kfac-emp" or "kfac-mc" => new Kfac(model, kfac, TestModels.Momentum, microBatchSize: micro, seed: 5),
            // Epsilon 1e-6, not 1e-12: a rank-deficient factor's null eigenvalues are round-off (~1e-17 |L|), and with epsilon
            // 1e-12 beside them the inverse root there moves by ~1e-5 relative from any re-ordering of the sums (about 1e-7 on
            // these weights): a property of Shampoo's epsilon, not of micro-batching.
            "shampoo" => new Shampoo(model, ShampooOptions.Default with { PreconditionFrequency = 2, WeightDecay = 1e-3, Epsilon = 1e-6 }, microBatchSize: micro),
            "soap" => new Soap(model, SoapOptions.Default with { PreconditionFrequency = 2 }, microBatchSize: micro),
            "muon" => new Muon(model, MuonOptions.Default with { WeightDecay = 1e-3 }, microBatchSize: micro),
            _ => new FopOptimizer(model, FopOptions.Paper, kfac, TestModels.Momentum, microBatchSize: micro, seed: 5),
        };
    }

    [Theory]
    [InlineData("mlp", "sgd")] [InlineData("mlp", "kfac-emp")] [InlineData("mlp", "kfac-mc")] [InlineData("mlp", "fop-emp")] [InlineData("mlp", "fop-mc")]
    [InlineData("cnn", "sgd")] [InlineData("cnn", "kfac-emp")] [InlineData("cnn", "kfac-mc")] [InlineData("cnn", "fop-emp")] [InlineData("cnn", "fop-mc")]
    [InlineData("mlp", "shampoo")] [InlineData("mlp", "soap")] [InlineData("mlp", "muon")]
    [InlineData("cnn", "shampoo")] [InlineData("cnn", "soap")] [InlineData("cnn", "muon")]
    public void MicroBatchedStepsEqualWholeBatchSteps(string model, string optimizer)
    {
        var whole = Model(model, 101);
        var micro = Model(model, 101);
        using var a = Create(optimizer, whole, 0);
        using var b = Create(optimizer, micro, 4);      // FOP's halves of 6 run as chunks of 4 and 2
        torch.manual_seed(102);
        for (int step = 0; step < 3; step++)
        {
            var x = Inputs(model, 12);
            var y = torch.randint(0, 4, [12]);
            a.Step(x, y, 0.05);
            b.Step(x, y, 0.05);
            TestModels.AssertSameWeights(whole, micro, 1e-10, $"{model}/{optimizer} step {step}: ");
        }
    }

    [Theory]
    [InlineData(FisherType.Empirical, false)]
    [InlineData(FisherType.MonteCarlo, false)]
    [InlineData(FisherType.Empirical, true)]
    public void AsKfacReproducesKfacOnAConvModel(FisherType fisher, bool layerScaleOn)
    {
        var options = TestModels.Plain(fisher, 0.02) with { CurvatureInterval = 2, InverseInterval = 2 };
        var m1 = FactorConventionTests.ConvNet(111);
        var m2 = FactorConventionTests.ConvNet(111);
        using var kfac = new Kfac(m1, options, TestModels.Momentum, seed: 3);
        using var fop = new FopOptimizer(m2, layerScaleOn ? FopOptions.Paper with { Projection = false } : FopOptions.AsKfac, options, TestModels.Momentum, seed: 3);
        torch.manual_seed(112);
        for (int step = 0; step < 5; step++)
        {
            var x = torch.randn(9, 2, 7, 6, dtype: ScalarType.Float64);
            var y = torch.randint(0, 4, [9]);
            kfac.Step(x, y, 0.1);
            fop.Step(x, y, 0.1);
            TestModels.AssertSameWeights(m1, m2, 1e-12, $"step {step}: ");
        }
    }
}
