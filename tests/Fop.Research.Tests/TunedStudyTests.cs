using Fop.Research.Studies;
using Fop.Research.Training;

namespace Fop.Research.Tests;

/// <summary>
/// Issue 15's tuning protocol: grids extend until the choice is interior, every variant of a config spends the same runs,
/// choices are made on validation only, the reported seeds are fresh, and other studies run at the chosen settings.
/// </summary>
public sealed class TunedStudyTests : IDisposable
{
    readonly string dir = Directory.CreateTempSubdirectory("fop-tuned-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    static readonly TuneSpec Spec = new() { MinRuns = 3, MaxRuns = 6 };

    static IReadOnlyDictionary<string, IReadOnlyDictionary<int, double>> Done(params (string Cell, (int K, double M)[] Points)[] cells) =>
        cells.ToDictionary(c => c.Cell, c => (IReadOnlyDictionary<int, double>)c.Points.ToDictionary(p => p.K, p => p.M));

    [Fact]
    public void TheGridStartsWithTheInitialPointsExtendsPastAnEdgeAndTopsUpToEqualRuns()
    {
        var start = BracketingGrid.Next(Spec, Done(("a", []), ("b", [(0, 0.5)])));
        Assert.Equal([-1, 0, 1], start["a"]);
        Assert.Equal([-1, 1], start["b"]);

        // a's best is its upper edge: one more point above; b is interior, so it waits for a.
        var edge = Done(("a", [(-1, 0.6), (0, 0.7), (1, 0.8)]), ("b", [(-1, 0.6), (0, 0.9), (1, 0.7)]));
        var next = BracketingGrid.Next(Spec, edge);
        Assert.Equal([2], next["a"]);
        Assert.Empty(next["b"]);

        // a now interior with 4 runs: b gets one point beyond the edge nearer its best (a tie goes below).
        var interior = Done(("a", [(-1, 0.6), (0, 0.7), (1, 0.8), (2, 0.75)]), ("b", [(-1, 0.6), (0, 0.9), (1, 0.7)]));
        next = BracketingGrid.Next(Spec, interior);
        Assert.Empty(next["a"]);
        Assert.Equal([-2], next["b"]);
        Assert.True(BracketingGrid.Bracketed(interior["a"]));
        Assert.Equal(1, BracketingGrid.Choose(interior["a"]));

        var settled = Done(("a", [(-1, 0.6), (0, 0.7), (1, 0.8), (2, 0.75)]), ("b", [(-2, 0.1), (-1, 0.6), (0, 0.9), (1, 0.7)]));
        Assert.All(BracketingGrid.Next(Spec, settled).Values, Assert.Empty);
    }

    [Fact]
    public void DivergedPointsCountAsWorstAndAGridStopsAtItsMaximum()
    {
        // Everything diverged: the choice is the smallest value, so the grid extends downward.
        var failed = Done(("a", [(-1, double.NaN), (0, double.NaN), (1, double.NaN)]));
        Assert.Equal(-1, BracketingGrid.Choose(failed["a"]));
        Assert.Equal([-2], BracketingGrid.Next(Spec, failed)["a"]);
        // Still on the edge at max_runs: settled, and reported as not bracketed.
        var capped = Done(("a", [(-4, 0.5), (-3, 0.4), (-2, double.NaN), (-1, double.NaN), (0, double.NaN), (1, double.NaN)]));
        Assert.Empty(BracketingGrid.Next(Spec, capped)["a"]);
        Assert.False(BracketingGrid.Bracketed(capped["a"]));
    }

    /// <summary>A stand-in trainer: best validation accuracy peaks at the variant's optimum (log2 distance), lr &gt; 3 diverges; test accuracy is a different curve so that choosing on test would choose otherwise.</summary>
    static RunSummary FakeTrain(RunConfig config, string runDir)
    {
        Directory.CreateDirectory(runDir);
        File.WriteAllText(Path.Combine(runDir, "config.json"), ConfigFile.ToJson(config));
        double optimum = config.Optimizer == Optim.OptimizerKind.Sgd ? 0.4 : 0.01;
        double d = Math.Log2(config.Lr / optimum);
        bool diverged = config.Lr > 3;
        double val = diverged ? double.NaN : 0.9 - 0.01 * d * d - 0.001 * config.Seed;
        double test = diverged ? double.NaN : 0.9 - 0.01 * (d - 1) * (d - 1);
        var metrics = new[] { new EpochMetrics(1, 1, config.Lr, 1, 0.5, 1, test - 0.1, 1, 0.1, 0, 1, val - 0.1), new EpochMetrics(2, 2, config.Lr, 1, 0.5, 1, test, 2, 0.2, 0, 1, val) };
        File.WriteAllText(Path.Combine(runDir, "metrics.csv"), EpochMetrics.Table(metrics));
        var summary = new RunSummary
        {
            Name = config.Name, Optimizer = config.OptimizerName, Model = config.ModelName, BatchSize = config.BatchSize, Lr = config.Lr, Seed = config.Seed, EpochsRun = diverged ? 1 : 2,
            BestValAccuracy = val, FinalValAccuracy = val, BestTestAccuracy = test, FinalTestAccuracy = test, Diverged = diverged ? "diverged: loss is NaN" : null, Completed = !diverged,
        };
        RunJson.Write(Path.Combine(runDir, "summary.json"), summary);
        return summary;
    }

    string WriteStudy(string name, string json)
    {
        var config = Reliability.ResumeAndRecordTests.SmallRun(dir, "sgd", "name=base", "epochs=2", "lr=0.1", "validation_examples=20", "batch_size=8");
        File.WriteAllText(Path.Combine(dir, "base.json"), ConfigFile.ToJson(config));
        var path = Path.Combine(dir, name + ".json");
        File.WriteAllText(path, json);
        return path;
    }

    const string Tuned = """
        { "name": "tuned", "configs": ["base.json"],
          "variants": [ { "label": "SGD", "set": ["optimizer=sgd", "lr=0.1"] }, { "label": "KFAC", "set": ["optimizer=kfac", "lr=0.01"] } ],
          "tune": { "key": "lr", "centre": "linear", "reference_batch": 8, "min_runs": 3, "max_runs": 6, "seed": 0 },
          "seeds": [1, 2], "reference": "KFAC", "targets": [0.85], "target_from": { "config": "base", "variant": "SGD", "margin": 0.01 } }
        """;

    [Fact]
    public void ATunedStudyBracketsEveryChoiceOnValidationAndRunsFreshSeedsAtIt()
    {
        var path = WriteStudy("tuned", Tuned);
        var study = StudyFile.Load(path);
        using var runner = new StudyRunner(Path.Combine(dir, "runs"), FakeTrain);
        var result = TunedStudy.Run(study, dir, runner);

        // SGD starts at 0.05/0.1/0.2 and climbs to bracket 0.4; KFAC is interior at once and is topped up to the same 5 runs.
        Assert.Equal(5, result.Points.Count(p => p.Variant == "SGD"));
        Assert.Equal(5, result.Points.Count(p => p.Variant == "KFAC"));
        var sgd = result.Choices.Single(c => c.Variant == "SGD");
        Assert.Equal(0.4, sgd.Value, 12);
        Assert.True(sgd.Bracketed);
        Assert.Equal(0.01, result.Choices.Single(c => c.Variant == "KFAC").Value, 12);
        Assert.Equal(["optimizer=sgd", "lr=0.1", "lr=0.4"], sgd.Overrides);
        Assert.All(result.Points, p => Assert.Equal(0, ConfigFile.Load(Path.Combine(p.RunDir, "config.json")).Seed));

        // Seeds 1 and 2 (never the tuning seed) of both variants at the chosen rates, seeds outermost.
        Assert.Equal(["base-sgd-s1", "base-kfac-s1", "base-sgd-s2", "base-kfac-s2"], result.Runs.Select(r => r.Summary.Name));
        Assert.Equal([0.4, 0.01, 0.4, 0.01], result.Runs.Select(r => ConfigFile.Load(Path.Combine(r.RunDir, "config.json")).Lr));

        var results = Path.Combine(dir, "results");
        VariantStudy.Write(results, study, result.Runs, "provenance", result);
        Assert.Equal(11, File.ReadAllLines(Path.Combine(results, "tuning.csv")).Length);
        Assert.True(File.Exists(Path.Combine(results, "runs", "base-sgd-tune-lr0.4", "summary.json")));
        var table = File.ReadAllText(Path.Combine(results, "table.md"));
        Assert.Contains("**0.4: 90.00**", table);
        Assert.Contains("Targets are crossings of **validation** accuracy", table);
        // The derived target: SGD's mean best validation accuracy over seeds 1 and 2 (0.899, 0.898) minus 1 point.
        var targets = VariantStudy.Targets(study, result.Runs);
        Assert.Equal(2, targets.Count);
        Assert.Equal(0.85, targets[0]);
        Assert.Equal(0.8885, targets[1], 9);
        Assert.Contains("best val acc (%) | final test acc (%)", table);

        using var again = new StudyRunner(Path.Combine(dir, "runs"), FakeTrain);
        var reread = TunedStudy.Run(study, dir, again);
        Assert.Equal(0, again.TrainedCount);
        Assert.Equal(result.Choices.Select(c => c.Value), reread.Choices.Select(c => c.Value));
        // A fresh checkout has only the committed records (results/runs): the study reads them back instead of training.
        using var fresh = new StudyRunner(Path.Combine(dir, "fresh-runs"), FakeTrain) { ArchiveDir = Path.Combine(results, "runs") };
        var restored = TunedStudy.Run(study, dir, fresh);
        Assert.Equal(0, fresh.TrainedCount);
        Assert.Equal(result.Runs.Select(r => r.Summary.BestValAccuracy), restored.Runs.Select(r => r.Summary.BestValAccuracy));
        Assert.All(restored.Runs, r => Assert.StartsWith(results, r.RunDir));

        // A later study runs at the chosen settings by reference, with its own switches on top.
        var ablation = WriteStudy("ablation", """
            { "name": "ablation", "configs": ["base.json"],
              "variants": [ { "label": "chosen", "choice": { "study": "results", "variant": "SGD" } },
                            { "label": "no momentum", "choice": { "study": "results", "variant": "SGD" }, "set": ["sgd.momentum=0"] } ] }
            """);
        using var third = new StudyRunner(Path.Combine(dir, "ablation-runs"), FakeTrain);
        var runs = VariantStudy.Run(StudyFile.Load(ablation), dir, third, resultsRoot: dir);
        Assert.All(runs, r => Assert.Equal(0.4, ConfigFile.Load(Path.Combine(r.RunDir, "config.json")).Lr, 12));
        Assert.Equal(0, ConfigFile.Load(Path.Combine(runs[1].RunDir, "config.json")).Sgd.Momentum);
        var missing = Assert.Throws<FileNotFoundException>(() => VariantStudy.Run(StudyFile.Load(ablation), dir, third, resultsRoot: Path.Combine(dir, "nowhere")));
        Assert.Contains("run the tuned study 'results'", missing.Message);
    }

    [Fact]
    public void AStudyReusesAnotherStudysFinishedRunWithTheSameSettingsAndTrainsTheRest()
    {
        var tuned = StudyFile.Load(WriteStudy("tuned", Tuned));
        using (var runner = new StudyRunner(Path.Combine(dir, "runs", "tuned"), FakeTrain))
            VariantStudy.Write(Path.Combine(dir, "tuned"), tuned, TunedStudy.Run(tuned, dir, runner).Runs, "provenance", null);
        // The tuned study's choices.json is written by its command; here the ablation references it through the test's results root.
        var ablation = StudyFile.Load(WriteStudy("sweep", """
            { "name": "sweep", "configs": ["base.json"], "reuse": ["tuned"], "seeds": [1, 2],
              "variants": [ { "label": "as tuned", "set": ["optimizer=sgd", "lr=0.1", "lr=0.4"] },
                            { "label": "no momentum", "set": ["optimizer=sgd", "lr=0.1", "lr=0.4", "sgd.momentum=0"] } ] }
            """));
        int trainedHere = 0;
        using var second = new StudyRunner(Path.Combine(dir, "runs", "sweep"), (c, d) => { trainedHere++; return FakeTrain(c, d); })
        {
            ReuseDirs = [Path.Combine(dir, "runs", "tuned")],
        };
        var runs = VariantStudy.Run(ablation, dir, second);

        // "as tuned" seeds 1 and 2 are the tuned study's SGD seed runs: copied under this study's names, not trained.
        Assert.Equal(2, second.ReusedCount);
        Assert.Equal(2, trainedHere);
        var reused = runs.Where(r => r.Variant == "as tuned").ToList();
        Assert.Equal(["base-as-tuned-s1", "base-as-tuned-s2"], reused.Select(r => r.Summary.Name));
        Assert.All(reused, r => Assert.Equal($"base-sgd-s{r.Seed}", RunJson.Read<ReuseRecord>(Path.Combine(r.RunDir, "reused.json")).OriginalName));
        Assert.Equal(File.ReadAllText(Path.Combine(dir, "runs", "tuned", "base-sgd-s1", "metrics.csv")), File.ReadAllText(Path.Combine(reused[0].RunDir, "metrics.csv")));
        Assert.Equal("base-as-tuned-s1", ConfigFile.Load(Path.Combine(reused[0].RunDir, "config.json")).Name);

        // The results keep the provenance; a run of at most 250 steps keeps its per-step log there too.
        File.WriteAllText(Path.Combine(reused[0].RunDir, "steps.csv"), "step,kl_clip_factor\n1,0.5\n");
        var results = Path.Combine(dir, "sweep-results");
        VariantStudy.Write(results, ablation, runs, "provenance");
        Assert.True(File.Exists(Path.Combine(results, "runs", "base-as-tuned-s1", "reused.json")));
        Assert.True(File.Exists(Path.Combine(results, "runs", "base-as-tuned-s1", "steps.csv")));

        // Read back on a second invocation: nothing trained or copied again.
        using var third = new StudyRunner(Path.Combine(dir, "runs", "sweep"), FakeTrain) { ReuseDirs = [Path.Combine(dir, "runs", "tuned")] };
        VariantStudy.Run(ablation, dir, third);
        Assert.Equal(0, third.TrainedCount + third.ReusedCount);
    }

    [Fact]
    public void OnlyTheBestOfACompetingGroupRunsTheSeeds()
    {
        var path = WriteStudy("compete", Tuned.Replace("\"seed\": 0 }", "\"seed\": 0, \"compete\": [[\"SGD\", \"KFAC\"]] }"));
        using var runner = new StudyRunner(Path.Combine(dir, "runs"), FakeTrain);
        var result = TunedStudy.Run(StudyFile.Load(path), dir, runner);
        // Both peak at 0.90 on validation; the tie goes to the group's first label.
        Assert.Equal([true, false], result.Choices.Select(c => c.Seeded));
        Assert.All(result.Runs, r => Assert.Equal("SGD", r.Variant));
    }

    [Theory]
    [InlineData("\"tune\": { \"seed\": 1 }", "also a study seed")]
    [InlineData("\"tune\": { \"initial\": [0, 1] }", "at least three")]
    [InlineData("\"tune\": { \"centre\": \"linear\" }", "reference_batch")]
    [InlineData("\"tune\": { \"compete\": [[\"SGD\", \"Adam\"]] }", "'Adam' is not a variant")]
    [InlineData("\"tune\": { \"min_runs\": 5, \"max_runs\": 4 }", "max_runs")]
    public void ABadTuneSectionIsRejectedNamingTheFile(string tune, string expected)
    {
        var path = WriteStudy("bad", $$"""{ "name": "bad", "configs": ["base.json"], "variants": [{ "label": "SGD" }, { "label": "KFAC" }], "seeds": [1], {{tune}} }""");
        var e = Assert.ThrowsAny<ArgumentException>(() => StudyFile.Load(path));
        Assert.Contains(path, e.Message);
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void ATunedStudyRefusesConfigsWithoutAValidationSplit()
    {
        var path = WriteStudy("noval", Tuned);
        var study = StudyFile.Load(path) with { Common = ["validation_examples=0"] };
        using var runner = new StudyRunner(Path.Combine(dir, "runs"), FakeTrain);
        var e = Assert.Throws<ArgumentException>(() => TunedStudy.Run(study, dir, runner));
        Assert.Contains("no validation split", e.Message);
        Assert.False(Directory.Exists(Path.Combine(dir, "runs")));
    }

    [Fact]
    public void EveryCommittedStudyFileLoadsWithItsConfigsAndTuningGrids()
    {
        var root = Data.DatasetFiles.RepositoryRoot() ?? throw new InvalidOperationException("repository root not found");
        var files = Directory.GetFiles(Path.Combine(root, "experiments", "studies"), "*.json");
        Assert.Contains(files, f => f.EndsWith("fmnist-fair-scaling.json", StringComparison.Ordinal));
        foreach (var f in files)
        {
            var study = StudyFile.Load(f);
            var bases = VariantStudy.Bases(study, Path.GetDirectoryName(f)!);
            // Every variant that does not wait for another study's choice must make a valid config on every base it runs on.
            foreach (var b in bases)
                foreach (var v in study.Variants.Where(v => v.Choice is null && v.RunsOn(b.Name)))
                {
                    var config = ConfigFile.Override(b, v.Set).Validate();
                    if (study.Tune is { } spec) Assert.True(config.ValidationExamples > 0, $"{f}: {b.Name} / {v.Label} has no validation split to tune on.");
                }
        }
    }

    [Fact]
    public void TimeToTargetReadsValidationWhenARunHasIt()
    {
        EpochMetrics Row(int epoch, double test, double val) => new(epoch, epoch, 0.1, 1, 0.5, 1, test, epoch, 0, 0, 1, val);
        Assert.Equal(((int?)2, (double?)2.0), FirstCrossing.Of([Row(1, 0.9, 0.7), Row(2, 0.7, 0.9)], 0.8));
        Assert.Equal(((int?)1, (double?)1.0), FirstCrossing.Of([Row(1, 0.9, double.NaN), Row(2, 0.7, double.NaN)], 0.8));
    }
}
