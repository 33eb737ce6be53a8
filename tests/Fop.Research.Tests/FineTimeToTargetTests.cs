using Fop.Research.Training;
using TorchSharp;

namespace Fop.Research.Tests;

/// <summary>
/// Validation after every step near a target (eval_every_step_above): it changes nothing the run does, logs every
/// evaluation from the one that switched it on to the one that switched it off, fixes the steps to the target, and
/// survives a kill and resume row for row.
/// </summary>
public sealed class FineTimeToTargetTests : IDisposable
{
    readonly string dir = Directory.CreateTempSubdirectory("fop-fine-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    /// <summary>120 training images less 24 for validation: 4 steps of 24 per epoch.</summary>
    RunConfig Run(string optimizer, params string[] sets) => Reliability.ResumeAndRecordTests.SmallRun(dir, optimizer,
        new[] { "validation_examples=24", "epochs=3", "fop.diagnostics_interval=1" }.Concat(sets).ToArray());

    static string[] Without(string path, int column) =>
        File.ReadAllLines(path).Select(l => string.Join(",", l.Split(',').Where((_, i) => i != column))).ToArray();

    [Theory]
    [InlineData("sgd", "mlp")]
    [InlineData("kfac", "mlp")]
    [InlineData("fop", "mlp")]
    [InlineData("sgd", "smallcnn-bn")]     // evaluation switches BatchNorm to its running statistics and back
    public void EvaluatingEveryStepLeavesTheTrajectoryBitIdentical(string optimizer, string model)
    {
        var plain = Run(optimizer, "name=plain", $"model={model}");
        using var data = RunData.Load(plain);
        var a = new Trainer(plain, data);
        var sa = a.Run(Path.Combine(dir, "plain"));
        // Switched on by the first evaluation (any accuracy is above 1e-3): every later step is evaluated.
        var fine = ConfigFile.Override(plain, ["name=fine", "eval_every_step_above=0.001"]).Validate();
        var b = new Trainer(fine, data);
        var sb = b.Run(Path.Combine(dir, "fine"));

        TestModels.AssertSameWeights(a.Model!, b.Model!, 0);
        foreach (var (x, y) in a.Model!.state_dict().Values.Zip(b.Model!.state_dict().Values)) Assert.True(TestModels.MaxAbs(x, y) == 0);
        Assert.Equal((sa.BestValAccuracy, sa.FinalValAccuracy, sa.FinalTestAccuracy, sa.Steps), (sb.BestValAccuracy, sb.FinalValAccuracy, sb.FinalTestAccuracy, sb.Steps));
        // Everything but the timing columns agrees, step by step and epoch by epoch.
        Assert.Equal(Without(Path.Combine(dir, "plain", "steps.csv"), 5), Without(Path.Combine(dir, "fine", "steps.csv"), 5));
        var (ma, mb) = (EpochMetrics.Read(Path.Combine(dir, "plain")), EpochMetrics.Read(Path.Combine(dir, "fine")));
        Assert.Equal(ma.Select(m => (m.TrainLoss, m.TestAccuracy, m.ValAccuracy)), mb.Select(m => (m.TrainLoss, m.TestAccuracy, m.ValAccuracy)));

        // From the end of epoch 1 (4 steps) every step is evaluated once, epoch ends included; epoch-end rows agree with metrics.csv.
        var evals = EvalLog.Read(Path.Combine(dir, "fine"));
        Assert.Equal(Enumerable.Range(4, 9).Select(s => (long)s), evals.Select(e => e.Step));
        Assert.Equal([1, 2, 2, 2, 2, 3, 3, 3, 3], evals.Select(e => e.Epoch));
        foreach (var m in mb) Assert.Equal(m.ValAccuracy, evals.Single(e => e.Step == m.Steps).ValAccuracy, 5);
        Assert.False(File.Exists(Path.Combine(dir, "plain", "evals.csv")));
    }

    [Fact]
    public void TheStepsToATargetAreTheFirstEvaluationThatReachesIt()
    {
        var probe = Run("sgd", "name=probe", "eval_every_step_above=0.001", "lr=0.05");
        using var data = RunData.Load(probe);
        new Trainer(probe, data).Run(Path.Combine(dir, "probe"));
        var evals = EvalLog.Read(Path.Combine(dir, "probe"));
        // The best accuracy between epoch ends, as a target: the run must name the step where it was first seen.
        var between = evals.Where(e => e.Step % 4 != 0).ToList();
        double target = between.Max(e => e.ValAccuracy);
        var epochEnds = EpochMetrics.Read(Path.Combine(dir, "probe")).Select(m => new Evaluation(m.Steps, m.Epoch, 0, m.ValLoss, m.ValAccuracy));
        long expected = evals.Concat(epochEnds).Where(e => e.ValAccuracy >= target - 5e-7).Min(e => e.Step);

        var run = ConfigFile.Override(probe, ["name=targeted", $"target_accuracy={target - 5e-7:R}"]).Validate();
        var summary = new Trainer(run, data).Run(Path.Combine(dir, "targeted"));
        Assert.Equal(expected, summary.StepsToTarget);
        if (summary.TimeToTarget is { } epochs) Assert.True(summary.StepsToTarget <= epochs.Epoch * 4);

        // Without evaluation between steps the steps to a target are those of the first epoch end that reached it.
        var coarse = new Trainer(ConfigFile.Override(run, ["name=coarse", "eval_every_step_above=null"]).Validate(), data).Run(Path.Combine(dir, "coarse"));
        Assert.Equal(coarse.TimeToTarget is { } t ? t.Epoch * 4L : null, coarse.StepsToTarget);
        Assert.Null(new Trainer(ConfigFile.Override(run, ["name=never", "target_accuracy=1"]).Validate(), data).Run(Path.Combine(dir, "never")).StepsToTarget);
    }

    [Fact]
    public void EvaluationEveryStepStopsAtItsUpperLevel()
    {
        // Any accuracy is above both levels: the first evaluation switches it on and off at once, and is the only row.
        var config = Run("sgd", "name=brief", "eval_every_step_above=0.001", "eval_every_step_until=0.002");
        using var data = RunData.Load(config);
        new Trainer(config, data).Run(Path.Combine(dir, "brief"));
        Assert.Equal([4L], EvalLog.Read(Path.Combine(dir, "brief")).Select(e => e.Step));
    }

    [Theory]
    [InlineData("fop", 6)]    // killed mid-epoch 2, after an evaluation between steps
    [InlineData("kfac", 8)]   // killed on epoch 2's last step, before its epoch-end evaluation
    public void AKilledRunResumesWithTheSameEvaluationsAndSteps(string optimizer, int killAfter)
    {
        var config = Run(optimizer, "name=whole", "eval_every_step_above=0.001", "target_accuracy=0.001");
        using var data = RunData.Load(config);
        var whole = new Trainer(config, data).Run(Path.Combine(dir, "whole"));
        var runDir = Path.Combine(dir, "killed");
        var partial = new Trainer(ConfigFile.Override(config, ["name=killed"]).Validate(), data) { StopAfterSteps = killAfter }.Run(runDir);
        Assert.False(partial.Completed);
        // A kill may also cut a row short after the checkpoint: it is dropped on resume.
        File.AppendAllText(Path.Combine(runDir, "evals.csv"), "99,3,0.1");
        var resumed = new Trainer(ConfigFile.Override(config, ["name=killed"]).Validate(), data).Run(runDir, resume: true);
        Assert.Equal(whole.StepsToTarget, resumed.StepsToTarget);
        Assert.Equal(4, resumed.StepsToTarget);
        Assert.Equal(Without(Path.Combine(dir, "whole", "evals.csv"), 2), Without(Path.Combine(runDir, "evals.csv"), 2));
    }

    [Fact]
    public void TheSettingIsCheckedAndDoesNotCountAsAnotherTrajectory()
    {
        var config = Run("sgd", "name=x");
        Assert.Empty(ConfigDifferences.TrajectoryChanging(config, ConfigFile.Override(config, ["eval_every_step_above=0.8", "eval_every_step_until=0.9"])));
        Assert.Contains("validation_examples", Assert.ThrowsAny<ArgumentException>(() => ConfigFile.Override(config, ["validation_examples=0", "eval_every_step_above=0.8"]).Validate()).Message);
        Assert.ThrowsAny<ArgumentException>(() => ConfigFile.Override(config, ["eval_every_step_until=0.9"]).Validate());
        Assert.ThrowsAny<ArgumentException>(() => ConfigFile.Override(config, ["eval_every_step_above=0.9", "eval_every_step_until=0.8"]).Validate());
        Assert.ThrowsAny<ArgumentException>(() => ConfigFile.Override(config, ["eval_every_step_above=1.5"]).Validate());
    }
}
