using Fop.Research.Io;
using Fop.Research.Studies;
using Fop.Research.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Fop.Research.Tests.Reliability;

/// <summary>Resume never mixes trajectories, records round-trip non-finite values, sweeps restart after every outcome, writes are atomic.</summary>
public sealed class ResumeAndRecordTests : IDisposable
{
    readonly string dir = Directory.CreateTempSubdirectory("fop-reliab-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    internal static RunConfig SmallRun(string dir, string optimizer, params string[] sets)
    {
        var data = Path.Combine(dir, "fmnist");
        if (!Directory.Exists(data)) { Directory.CreateDirectory(data); DataTests.WriteFashionMnist(data, 120, 40); }
        return ConfigFile.Load(null, new[]
        {
            "model=mlp", "mlp_hidden=[16]", $"optimizer={optimizer}", $"data_dir={data}", "batch_size=24", "epochs=2", "lr=0.01",
            "kfac.curvature_interval=2", "kfac.inverse_interval=4", $"output_dir={dir}",
        }.Concat(sets));
    }

    [Fact]
    public void AResumeThatWouldChangeTheTrajectoryIsRefusedListingTheKeysAndLeavesTheFolderAsItWas()
    {
        var config = SmallRun(dir, "sgd", "name=r", "lr=0.05");
        using var data = RunData.Load(config);
        var runDir = Path.Combine(dir, "r");
        new Trainer(config, data) { StopAfterSteps = 3 }.Run(runDir);
        var configBefore = File.ReadAllText(Path.Combine(runDir, "config.json"));
        var checkpointBefore = File.ReadAllBytes(Path.Combine(runDir, "checkpoint.bin"));

        var changed = ConfigFile.Override(config, ["lr=0.5", "kfac.damping=0.1"]);
        var e = Assert.Throws<ResumeConflictException>(() => new Trainer(changed, data).Run(runDir, resume: true));
        Assert.Contains("lr: 0.05 -> 0.5", e.Message);
        Assert.Contains("kfac.damping", e.Message);
        Assert.Contains("--fork", e.Message);
        Assert.Equal(configBefore, File.ReadAllText(Path.Combine(runDir, "config.json")));
        Assert.Equal(checkpointBefore, File.ReadAllBytes(Path.Combine(runDir, "checkpoint.bin")));

        // Extending the budget is allowed and said.
        var messages = new List<string>();
        var longer = ConfigFile.Override(config, ["epochs=3", "device=cpu", "threads=1"]);
        var summary = new Trainer(longer, data) { OnMessage = messages.Add }.Run(runDir, resume: true);
        Assert.True(summary.Completed);
        Assert.Equal(3, summary.EpochsRun);
        Assert.Contains(messages, m => m.Contains("resuming with epochs: 2 -> 3"));
    }

    [Fact]
    public void AForkStartsANewFolderFromTheCheckpointAndRecordsWhereItCameFrom()
    {
        var config = SmallRun(dir, "kfac", "name=src");
        using var data = RunData.Load(config);
        var full = new Trainer(config, data);
        full.Run(Path.Combine(dir, "uninterrupted"));
        var src = Path.Combine(dir, "src");
        new Trainer(config, data) { StopAfterSteps = 6 }.Run(src);

        // A fork with an unchanged config continues exactly as the source would have.
        var same = ConfigFile.Override(config, ["name=same"]);
        var record = RunFork.Prepare(src, Path.Combine(dir, "same"), same);
        Assert.Equal(6, record.AtStep);
        Assert.Empty(record.Changes);
        var continued = new Trainer(same, data);
        continued.Run(Path.Combine(dir, "same"), resume: true);
        TestModels.AssertSameWeights(full.Model!, continued.Model!, 0);

        // A fork with a new learning rate records the change; the source is untouched.
        var faster = ConfigFile.Override(config, ["name=faster", "lr=0.02"]);
        var fork = RunFork.Prepare(src, Path.Combine(dir, "faster"), faster);
        Assert.Contains("lr: 0.01 -> 0.02", fork.Changes);
        var summary = new Trainer(faster, data).Run(Path.Combine(dir, "faster"), resume: true);
        Assert.True(summary.Completed);
        Assert.True(File.Exists(Path.Combine(dir, "faster", "fork.json")));
        Assert.Equal(ConfigFile.ToJson(config), File.ReadAllText(Path.Combine(src, "config.json")));
        Assert.Equal(summary.Steps, File.ReadAllLines(Path.Combine(dir, "faster", "steps.csv")).Length - 1);
        Assert.Throws<ArgumentException>(() => RunFork.Prepare(Path.Combine(dir, "same"), Path.Combine(dir, "faster"), faster));

        // A fork killed while copying (fork.json written, config.json not yet) is copied again and then trains.
        var late = ConfigFile.Override(config, ["name=late", "lr=0.02"]);
        RunFork.Prepare(src, Path.Combine(dir, "late"), late);
        File.Delete(Path.Combine(dir, "late", "config.json"));
        File.WriteAllBytes(Path.Combine(dir, "late", "checkpoint.bin"), [1, 2, 3]);
        RunFork.Prepare(src, Path.Combine(dir, "late"), late);
        Assert.True(new Trainer(late, data).Run(Path.Combine(dir, "late"), resume: true).Completed);
    }

    [Fact]
    public void ACheckpointWithoutItsConfigCannotBeResumed()
    {
        var config = SmallRun(dir, "sgd", "name=noconfig");
        using var data = RunData.Load(config);
        var runDir = Path.Combine(dir, "noconfig");
        new Trainer(config, data) { StopAfterSteps = 2 }.Run(runDir);
        File.Delete(Path.Combine(runDir, "config.json"));
        var e = Assert.Throws<InvalidDataException>(() => new Trainer(config, data).Run(runDir, resume: true));
        Assert.Contains("config.json", e.Message);
        Assert.True(File.Exists(Path.Combine(runDir, "checkpoint.bin")));
    }

    [Fact]
    public void StepTimesKeptForTheMedianStayBoundedAndTheMedianIsTheTrueOne()
    {
        var times = new List<double>();
        for (int i = 0; i < 5 * RecentStepTimes.Window + 3; i++) RecentStepTimes.Add(times, i);
        Assert.InRange(times.Count, RecentStepTimes.Window, 2 * RecentStepTimes.Window);
        Assert.Equal(5 * RecentStepTimes.Window + 2, times[^1]);                           // the newest kept, in order
        Assert.Equal(times.Count, times.Zip(times.Skip(1)).Count(p => p.Second == p.First + 1) + 1);
        Assert.Equal(2.5, RecentStepTimes.Median([4, 1, 3, 2]));                          // even count: the mean of the middle two
        Assert.Equal(3, RecentStepTimes.Median([5, 1, 3]));
        Assert.True(double.IsNaN(RecentStepTimes.Median([])));
    }

    [Fact]
    public void NonFiniteValuesRoundTripThroughRunRecords()
    {
        var path = Path.Combine(dir, "summary.json");
        var summary = new RunSummary { Name = "x", FinalTestAccuracy = double.NaN, MedianStepMs = double.PositiveInfinity, BestTestAccuracy = double.NegativeInfinity };
        RunJson.Write(path, summary);
        var back = RunSummary.Read(path);
        Assert.True(double.IsNaN(back.FinalTestAccuracy));
        Assert.Equal(double.PositiveInfinity, back.MedianStepMs);
        Assert.Equal(double.NegativeInfinity, back.BestTestAccuracy);
    }

    [Fact]
    public void ASweepRestartsAfterEveryKindOfRunOutcome()
    {
        // Points: a completed run, a diverged one (NaN accuracies), one abandoned as stalled, and one killed mid-run.
        var baseConfig = SmallRun(dir, "sgd", "name=sweep", "sgd.momentum=0");
        var axes = new[] { GridAxis.Parse("lr=0.01,1e30,0.0001,0.02") };
        using var data = RunData.Load(baseConfig);
        int trained = 0;
        RunSummary Train(RunConfig c, string d, bool kill)
        {
            trained++;
            var extra = c.Lr switch
            {
                0.0001 => ConfigFile.Override(c, ["abandon_below=0.99", "abandon_after_epochs=1"]),
                1e30 => ConfigFile.Override(c, ["epochs=6"]),
                _ => c,
            };
            return new Trainer(extra, data) { StopAfterSteps = kill && c.Lr == 0.02 ? 3 : null }.Run(d, resume: true);
        }
        // The abandon settings are part of the point's config, so the restart sees the same config.
        var points = GridSweep.Points(baseConfig, axes);
        Assert.Equal(["lr-0.01", "lr-1e30", "lr-0.0001", "lr-0.02"], points.Select(p => p.Name));

        var first = GridSweep.Run(baseConfig, axes, (c, _, d) => Train(c, d, kill: true));
        Assert.Equal(4, trained);
        Assert.NotNull(first[1].Diverged);
        Assert.True(double.IsNaN(first[1].FinalTestAccuracy) || first[1].FinalTestAccuracy < 0.5);
        Assert.Contains("stalled", first[2].Diverged);
        Assert.False(first[3].Completed);

        trained = 0;
        var second = GridSweep.Run(baseConfig, axes, (c, _, d) => Train(c, d, kill: false));
        Assert.Equal(1, trained);                        // only the killed point runs again, from its checkpoint
        Assert.True(second[3].Completed);
        Assert.Equal(first[1].Diverged, second[1].Diverged);

        trained = 0;
        GridSweep.Run(baseConfig, axes, (c, _, d) => Train(c, d, kill: false));
        Assert.Equal(0, trained);
    }

    [Fact]
    public void AnAtomicWriteThatFailsLeavesThePreviousFileAndNoTemporaryFile()
    {
        var path = Path.Combine(dir, "results.csv");
        AtomicFile.WriteAllText(path, "old\n");
        Assert.ThrowsAny<Exception>(() => AtomicFile.Write(path, s => { s.Write([1, 2, 3]); throw new IOException("disk full"); }));
        Assert.Equal("old\n", File.ReadAllText(path));
        Assert.Single(Directory.GetFiles(dir));
        // A folder that cannot be created (a file is in its place) is a clear error naming the path.
        var blocked = Path.Combine(path, "sub", "x.json");
        var e = Assert.Throws<IOException>(() => AtomicFile.WriteAllText(blocked, "{}"));
        Assert.Contains(blocked, e.Message);
    }

    [Fact]
    public void ACsvLogDropsARowCutShortByAKillAndRowsPastTheCheckpoint()
    {
        var path = Path.Combine(dir, "steps.csv");
        File.WriteAllText(path, "step,loss\n0,1.5\n1,1.4\n2,1.3\n3,1.");     // the kill cut row 3 mid-number
        using (var log = new CsvLog(path, "step,loss", resume: true, keep: r => long.Parse(r[0]) < 3)) log.Append(["3", "1.25"]);
        Assert.Equal(["step,loss", "0,1.5", "1,1.4", "2,1.3", "3,1.25"], File.ReadAllLines(path));
        // Damage anywhere but the last row is corruption, not a kill: an error naming the file and the line, the file left as it was.
        File.WriteAllText(path, "step,loss\n0,1.5\n1\n2,1.3\n");
        Assert.Contains($"{path}: line 3", Assert.Throws<InvalidDataException>(() => new CsvLog(path, "step,loss", resume: true, keep: r => long.Parse(r[0]) < 9)).Message);
        File.WriteAllText(path, "step,loss\n0,1.5\nx,2\n2,1.3\n");
        Assert.Throws<InvalidDataException>(() => new CsvLog(path, "step,loss", resume: true, keep: r => long.Parse(r[0]) < 9));
        Assert.Equal("step,loss\n0,1.5\nx,2\n2,1.3\n", File.ReadAllText(path));
    }

    [Fact]
    public void FiguresReadALogsCompleteRowsAsColumns()
    {
        var path = Path.Combine(dir, "steps.csv");
        File.WriteAllText(path, "step,layer,beta\n1,\"a,b\",0.5\n2,fc,\n3,fc,0.2");   // the last row cut short by a kill
        var log = Io.CsvColumns.ReadLog(path);
        Assert.Equal(2, log.Count);
        Assert.Equal(["a,b", "fc"], log.Strings("layer"));
        Assert.Equal([0.5, double.NaN], log.Doubles("beta"));
        Assert.All(log.Doubles("eta"), v => Assert.True(double.IsNaN(v)));        // a column an older log lacks
        File.WriteAllText(path, "step,beta\n1,x\n");
        Assert.Contains($"{path}: 'x' in column 'beta'", Assert.Throws<InvalidDataException>(() => Io.CsvColumns.ReadLog(path).Doubles("beta")).Message);
    }

    [Fact]
    public void ACsvLogQuotesACellWithASeparatorAndReadsItBack()
    {
        // Layer names are the model's module names, free text as far as CSV is concerned.
        var path = Path.Combine(dir, "layers.csv");
        using (var log = new CsvLog(path, "step,layer,beta", resume: false, keep: _ => true))
        {
            log.Append(["1", "block, \"odd\"", "0.5"]);
            log.Append(["2", "fc", "0.25"]);
        }
        Assert.Equal("step,layer,beta\n1,\"block, \"\"odd\"\"\",0.5\n2,fc,0.25\n", File.ReadAllText(path));
        var rows = CsvLog.CompleteRows(path, 3);
        Assert.Equal(["1", "block, \"odd\"", "0.5"], rows[0]);
        Assert.Equal(["step", "layer", "beta"], CsvLog.Header(path));
        using (var log = new CsvLog(path, "step,layer,beta", resume: true, keep: r => long.Parse(r[0]) < 2)) { }
        Assert.Equal("step,layer,beta\n1,\"block, \"\"odd\"\"\",0.5\n", File.ReadAllText(path));
    }

    [Fact]
    public void AFinalBatchOfOneIsDroppedSoFopAndBatchNormNeverSeeIt()
    {
        Assert.Equal(7, Data.BatchOrder.StepsPerEpoch(120, 17));    // 7 x 17 = 119: the 120th example waits for the next epoch's order
        Assert.Equal(8, Data.BatchOrder.StepsPerEpoch(121, 17));    // a last batch of 2 is kept
        Assert.Equal(120, Data.BatchOrder.StepsPerEpoch(120, 1));
        var config = SmallRun(dir, "fop", "name=odd", "batch_size=17", "epochs=1");
        using var data = RunData.Load(config);
        var summary = new Trainer(config, data).Run(Path.Combine(dir, "odd"));
        Assert.True(summary.Completed);
        Assert.Equal(7, summary.Steps);
    }

    [Fact]
    public void InertSettingsAreWarnedAbout()
    {
        Assert.Contains(SmallRun(dir, "fop", "fop.fixed_beta=0.5").Warnings(), w => w.Contains("fixed_beta"));
        Assert.Contains(SmallRun(dir, "fop", "fop.layer_scale=false", "fop.eta_min=0.5").Warnings(), w => w.Contains("eta_min"));
        Assert.Contains(SmallRun(dir, "sgd", "kfac.damping=0.1").Warnings(), w => w.Contains("kfac.*"));
        Assert.Empty(SmallRun(dir, "fop", "fop.beta=fixed", "fop.fixed_beta=0.5").Warnings());
    }
}
