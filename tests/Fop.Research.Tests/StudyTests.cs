using Fop.Research.Studies;
using Fop.Research.Training;

namespace Fop.Research.Tests;

/// <summary>The studies' plans, their resumption, and their reports, on tiny synthetic Fashion-MNIST files.</summary>
public sealed class StudyTests : IDisposable
{
    readonly string dir = Directory.CreateTempSubdirectory("fop-study-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    string Data()
    {
        var data = Path.Combine(dir, "fmnist");
        if (!Directory.Exists(data)) { Directory.CreateDirectory(data); DataTests.WriteFashionMnist(data, 200, 50); }
        return data;
    }

    ScalingStudyOptions TinyScaling() => new()
    {
        Common = ["dataset=fashion-mnist", $"data_dir={Data()}", "mlp_hidden=[8]", "eval_batch_size=50"],
        BaseBatch = 20, Batches = [20, 100], Epochs = 3, TuneEpochs = 1, Seeds = 2, WarmupEpochs = 0,
        BaseLrs = new Dictionary<string, double[]> { ["sgd"] = [0.01, 0.05], ["adamw"] = [0.001], ["kfac"] = [0.001], ["fop"] = [0.001] },
        Dampings = [0.1, 1.0], LrMultipliers = [0.5, 1], BaseCurvatureInterval = 4, MinCurvatureInterval = 1, MicroBatch = 60, CnnBatches = [],
        // Accuracy on random labels is noise: a margin of 1 makes every run reach the target, so seeds are exercised.
        TargetMargin = 1.0, AbandonBelow = 0.01,
    };

    [Fact]
    public void TheCurvatureIntervalShrinksWithTheBatchButNeverBelowTheMinimum()
    {
        var o = new ScalingStudyOptions();
        Assert.Equal([40, 10, 5, 5, 5], o.Batches.Select(o.IntervalFor));
        Assert.Equal(20, o.IntervalFor(1024));
    }

    [Fact]
    public void TheScalingStudyPlansFromFinishedRunsSoARestartRetrainsNothingAndAnInterruptedRunResumes()
    {
        var runsDir = Path.Combine(dir, "runs");
        var trained = new List<string>();
        ScalingResults Run(StudyRunner? runner = null)
        {
            StudyRunner? self = null;
            using var r = self = new StudyRunner(runsDir, (c, d) => { trained.Add(c.Name); return new Trainer(c, self!.Data(c)).Run(d, resume: true); });
            return ScalingStudy.Run(r, TinyScaling());
        }
        var first = Run();
        // tune: sgd 2 lrs, adamw 1, kfac/fop 1 lr + 1 other damping; target run; batch 100: 2 multipliers x 4; seeds: 1 extra per reached point.
        Assert.Equal(2 + 1 + 2 + 2, first.Runs.Count(r => r.Stage == "tune"));
        Assert.Equal(first.Runs.Count(r => r.Stage == "seed"), first.Best.Count(b => b.Reached));
        Assert.True(first.Best.All(b => b.Reached));
        Assert.Equal(trained.Count, trained.Distinct().Count());
        Assert.All(first.Runs.Where(r => r.Summary.Optimizer is "kfac" or "fop" && r.Summary.BatchSize == 100), r => Assert.Contains("interval 1", r.Note));
        // Runs measured against the target stop at the first epoch that reaches it (all reach it here).
        Assert.All(first.Runs.Where(r => r.Stage is "scaling" or "seed" && !(r.Summary.Optimizer == "sgd" && r.Summary.BatchSize == 20)),
            r => Assert.Equal(r.EpochsToTarget, r.Summary.EpochsRun));

        trained.Clear();
        var again = Run();
        Assert.Empty(trained);
        Assert.Equal(first.Runs.Select(r => r.ToCsv()), again.Runs.Select(r => r.ToCsv()));

        // An interrupted run (checkpoint, no summary) is resumed, and only it is trained.
        var victim = first.Runs.Last().Summary.Name;
        File.Delete(Path.Combine(runsDir, victim, "summary.json"));
        trained.Clear();
        var resumed = Run();
        Assert.Equal([victim], trained);
        Assert.Equal(first.Runs.Last().Summary.BestTestAccuracy, resumed.Runs.Last().Summary.BestTestAccuracy);

        var table = StudyReport.ScalingTable(resumed, "test", "test machine", TimeSpan.Zero);
        Assert.Contains("| 100 |", table);
        var results = Path.Combine(dir, "results");
        StudyReport.WriteResults(results, resumed.Runs);
        Assert.Equal(resumed.Runs.Count + 1, File.ReadAllLines(Path.Combine(results, "results.csv")).Length);
        using var reader = new StudyRunner(runsDir);
        StudyReport.WriteCurves(results, reader, resumed.Runs);
        Assert.True(File.ReadAllLines(Path.Combine(results, "curves.csv")).Length > resumed.Runs.Count);
        var (panels, _) = Research.Plots.Views.StudyViews.AccuracyOverTime(results, resumed.Target).Save(results);
        var (ttt, _) = Research.Plots.Views.StudyViews.TimeToTarget(results, resumed.Target).Save(results);
        Assert.True(new FileInfo(panels).Length > 1000);
        Assert.True(new FileInfo(ttt).Length > 1000);
    }

    [Fact]
    public void TheTargetIsSgdsBestAccuracyAtTheBaseBatchMinusTheMargin()
    {
        using var runner = new StudyRunner(Path.Combine(dir, "runs"));
        var o = TinyScaling() with { TargetMargin = 0.01, Batches = [20], Optimizers = ["sgd"], AbandonBelow = 0.99 };  // every other run would be abandoned
        var r = ScalingStudy.Run(runner, o);
        var sgd = r.Runs.Single(x => x.Stage == "scaling");
        Assert.Equal(Math.Round(sgd.Summary.BestTestAccuracy - 0.01, 4), r.Target, 10);
        Assert.Equal(o.Epochs, sgd.Summary.EpochsRun);
    }

    [Fact]
    public void TheLongTailedStudyRunsEveryOptimizerFactorAndSeedAndTabulatesTheError()
    {
        using var runner = new StudyRunner(Path.Combine(dir, "lt"));
        var o = new LongTailedStudyOptions
        {
            Common = ["dataset=fashion-mnist", $"data_dir={Data()}", "model=mlp", "mlp_hidden=[8]", "eval_batch_size=50"],
            ImbalanceFactors = [10, 5], Seeds = 2, Epochs = 1, Batch = 16,
        };
        var runs = LongTailedStudy.Run(runner, o);
        Assert.Equal(2 * 3 * 2, runs.Count);
        Assert.True(runs.Where(r => r.Note == "imbalance 10").All(r => r.Summary.Steps < runs.First(x => x.Note == "imbalance 5").Summary.Steps + 1));
        var table = LongTailedStudy.Table(o, runs, "test", "test machine", TimeSpan.Zero);
        Assert.Contains("FMNIST-LT IF10", table);
        Assert.Contains("baseline (SGD)", table);
        Assert.DoesNotContain("not run", table);
    }
}
