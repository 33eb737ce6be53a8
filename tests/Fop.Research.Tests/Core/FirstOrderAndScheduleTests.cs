using Fop.Research.Curvature;
using Fop.Research.Optim;
using Fop.Research.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Fop.Research.Tests.Core;

/// <summary>Our first-order rules against TorchSharp's own optimizers, and every schedule against its formula (via its JSON form).</summary>
public sealed class FirstOrderAndScheduleTests
{
    [Theory]
    [InlineData("sgd", 0.9, false, 1e-3)]
    [InlineData("sgd", 0.9, true, 1e-3)]
    [InlineData("sgd", 0.0, false, 0.0)]
    [InlineData("adamw", 0.0, false, 0.05)]
    [InlineData("adamw", 0.0, false, 0.0)]
    public void FirstOrderRulesMatchTorchOptimizersStepForStep(string kind, double momentum, bool nesterov, double weightDecay)
    {
        const double lr = 0.05;
        var ours = TestModels.Mlp(91, 6, 5, 4);
        var theirs = TestModels.Mlp(91, 6, 5, 4);
        using var opt = kind == "sgd"
            ? FirstOrderOptimizer.Sgd(ours, new SgdOptions(momentum, nesterov, weightDecay))
            : FirstOrderOptimizer.AdamW(ours, new AdamWOptions(0.9, 0.99, 1e-8, weightDecay));
        torch.optim.Optimizer reference = kind == "sgd"
            ? torch.optim.SGD(theirs.parameters(), lr, momentum, 0, weightDecay, nesterov)
            : torch.optim.AdamW(theirs.parameters(), lr, 0.9, 0.99, 1e-8, weightDecay);
        torch.manual_seed(92);
        for (int step = 0; step < 6; step++)
        {
            var x = torch.randn(9, 6, dtype: ScalarType.Float64);
            var y = torch.randint(0, 4, [9]);
            opt.Step(x, y, lr);
            reference.zero_grad();
            torch.nn.functional.cross_entropy(theirs.call(x), y).backward();
            reference.step();
            TestModels.AssertSameWeights(ours, theirs, 1e-12, $"{kind} step {step}: ");
        }
    }

    static LrScheduler Scheduler(string json, int epochs)
    {
        var config = ConfigFile.Load(null, [$"schedule={json}", $"epochs={epochs}"]);
        return new LrScheduler(config.Schedule, config.Epochs);
    }

    [Theory]
    [InlineData(1, 0.0, 20.0)]      // full batch: 20 warm-up steps are 20 epochs of one step
    [InlineData(1, 0.05, 20.0)]     // 5% of 100 one-step epochs is 5 steps: the 20 steps win
    [InlineData(3, 0.05, 6.6667)]   // 20 steps at 3 per epoch are 6.67 epochs, more than 5% of 100 epochs
    [InlineData(15, 0.05, 5.0)]     // 20 steps at 15 per epoch are 1.33 epochs, less than 5% of 100 epochs
    public void WarmUpInStepsIsTheLongestOfItsThreeForms(int stepsPerEpoch, double fraction, double expectedEpochs)
    {
        var config = ConfigFile.Load(null, [$"schedule={{\"kind\":\"cosine\",\"warmup_epochs\":1,\"warmup_steps\":20,\"warmup_fraction\":{fraction}}}", "epochs=100"]);
        var s = new LrScheduler(config.Schedule, config.Epochs, stepsPerEpoch);
        Assert.Equal(expectedEpochs, s.WarmupEpochs, 3);
        Assert.Equal(0.5, s.Factor(expectedEpochs / 2) / s.Factor(expectedEpochs), 3);
        Assert.Equal(1.0, s.Factor(expectedEpochs), 3);
        Assert.Throws<ArgumentOutOfRangeException>(() => ConfigFile.Load(null, ["schedule={\"kind\":\"cosine\",\"warmup_steps\":-1}"]));
    }

    [Fact]
    public void CosineWithWarmupFollowsItsFormula()
    {
        var s = Scheduler("{\"kind\":\"cosine\",\"warmup_epochs\":2,\"min_factor\":0.1}", 10);
        foreach (var e in new[] { 0.0, 0.5, 1.0, 1.99, 2.0, 3.5, 6.0, 9.75, 10.0, 12.0 })
        {
            double cosine = 0.1 + 0.9 * 0.5 * (1 + Math.Cos(Math.PI * Math.Clamp((e - 2) / 8, 0, 1)));
            double expected = e < 2 ? cosine * e / 2 : cosine;
            Assert.Equal(expected, s.Factor(e), 6);
        }
    }

    [Fact]
    public void StepExponentialAndConstantFollowTheirFormulas()
    {
        var step = Scheduler("{\"kind\":\"step\",\"milestones\":[3,6],\"gamma\":0.1}", 10);
        var exp = Scheduler("{\"kind\":\"exponential\",\"gamma\":0.5}", 10);
        var constant = Scheduler("{\"kind\":\"constant\",\"warmup_epochs\":1}", 10);
        foreach (var e in new[] { 0.0, 0.4, 2.99, 3.0, 5.5, 6.0, 9.0 })
        {
            Assert.Equal(e < 3 ? 1 : e < 6 ? 0.1 : 0.01, step.Factor(e), 12);
            Assert.Equal(Math.Pow(0.5, Math.Floor(e)), exp.Factor(e), 12);
            Assert.Equal(e < 1 ? e : 1, constant.Factor(e), 6);
        }
    }

    [Fact]
    public void PlateauDecaysAfterPatienceEpochsWithoutImprovement()
    {
        var s = Scheduler("{\"kind\":\"plateau\",\"patience\":2,\"gamma\":0.5,\"min_factor\":0.2}", 20);
        double[] accuracies = [0.5, 0.6, 0.6, 0.59, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7];
        double[] expected = [1, 1, 1, 0.5, 0.5, 0.5, 0.25, 0.25, 0.2, 0.2, 0.2];
        for (int i = 0; i < accuracies.Length; i++)
        {
            s.EndEpoch(accuracies[i]);
            Assert.Equal(expected[i], s.Factor(i + 1), 12);
        }
    }

    [Fact]
    public void ValueSchedulesFollowTheirFormulasAndJsonForms()
    {
        var exp = ConfigFile.Load(null, ["kfac.damping={\"start\":0.1,\"end\":0.001,\"steps\":100,\"shape\":\"exponential\"}"]).Kfac.Damping;
        var lin = ConfigFile.Load(null, ["kfac.damping={\"start\":0.1,\"end\":0.02,\"steps\":40,\"shape\":\"linear\"}"]).Kfac.Damping;
        var constant = ConfigFile.Load(null, ["kfac.damping=0.003"]).Kfac.Damping;
        foreach (var t in new long[] { 0, 10, 25, 50, 100, 150 })
        {
            Assert.Equal(0.1 * Math.Pow(0.01, Math.Min(1, t / 100.0)), exp.At(t), 12);
            Assert.Equal(0.1 + (0.02 - 0.1) * Math.Min(1, t / 40.0), lin.At(t), 12);
            Assert.Equal(0.003, constant.At(t));
        }
        // The JSON round trip keeps a constant a number and a schedule an object.
        Assert.Contains("\"damping\": 0.003", ConfigFile.ToJson(ConfigFile.Load(null, ["kfac.damping=0.003"])));
        Assert.Equal(exp, ConfigFile.Load(null, [$"kfac.damping={System.Text.Json.JsonSerializer.Serialize(exp, ConfigFile.Json)}"]).Kfac.Damping);
    }
}
