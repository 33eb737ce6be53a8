using Fop.Research.Studies;
using Fop.Research.Training;

namespace Fop.Research.Tests;

/// <summary>
/// Rate grids declared in study files: one variant per value, runs named and configured by it, kept logs in the results,
/// and reuse of finished runs whose records already hold every evaluation a finely evaluated run would make.
/// </summary>
public sealed class RateGridStudyTests : IDisposable
{
    readonly string dir = Directory.CreateTempSubdirectory("fop-grid-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    string WriteStudy(string json)
    {
        var config = Reliability.ResumeAndRecordTests.SmallRun(dir, "sgd", "name=base", "epochs=2", "validation_examples=24");
        File.WriteAllText(Path.Combine(dir, "base.json"), ConfigFile.ToJson(config));
        var path = Path.Combine(dir, "study.json");
        File.WriteAllText(path, json);
        return path;
    }

    [Fact]
    public void AGridVariantExpandsIntoOneVariantPerValueAndRunsAsAPlainStudy()
    {
        var path = WriteStudy("""
            { "name": "curves", "configs": ["base.json"], "common": ["eval_every_step_above=0.001", "noise_interval=2"],
              "variants": [
                { "label": "SGD", "set": ["optimizer=sgd"], "grid": { "key": "lr", "values": [0.01, 0.02] } },
                { "label": "FOP", "set": ["optimizer=fop"], "grid": { "key": "lr", "values": [0.002518] } } ],
              "seeds": [0, 1], "reference": "FOP lr 0.002518", "targets": [0.05], "records": ["noise.csv"] }
            """);
        var study = StudyFile.Load(path);
        Assert.Equal(["SGD lr 0.01", "SGD lr 0.02", "FOP lr 0.002518"], study.Variants.Select(v => v.Label));
        Assert.Equal(["SGD", "SGD", "FOP"], study.Variants.Select(v => v.Family));
        Assert.Equal([0.01, 0.02, 0.002518], study.Variants.Select(v => v.GridValue!.Value));
        Assert.Equal(["optimizer=fop", "lr=0.002518"], study.Variants[2].Set);
        Assert.All(study.Variants, v => Assert.Null(v.Grid));
        Assert.Same(study, study.Validate());

        using var runner = new StudyRunner(Path.Combine(dir, "runs"));
        var runs = VariantStudy.Run(study, dir, runner);
        Assert.Equal(["base-sgd-lr-0.01-s0", "base-sgd-lr-0.02-s0", "base-fop-lr-0.002518-s0"], runs.Take(3).Select(r => r.Summary.Name));
        Assert.Equal([0.01, 0.02, 0.002518], runs.Take(3).Select(r => r.Summary.Lr));
        var results = Path.Combine(dir, "results");
        VariantStudy.Write(results, study, runs, "provenance");
        // evals.csv is always kept; noise.csv because the study asks for it; checkpoints never.
        Assert.All(runs, r => Assert.True(File.Exists(Path.Combine(results, "runs", r.Summary.Name, "evals.csv"))));
        Assert.All(runs, r => Assert.True(File.Exists(Path.Combine(results, "runs", r.Summary.Name, "noise.csv"))));
        Assert.All(runs, r => Assert.False(File.Exists(Path.Combine(results, "runs", r.Summary.Name, "checkpoint.bin"))));

        // Read back as curve points: rate from the run, family from the grid's variant, crossings from metrics.csv and evals.csv.
        var curves = CurveStudy.Load(StudyFile.Load(path), results, StepCosts.InRun);
        Assert.Equal(6, curves.Runs.Count);
        Assert.Equal(["SGD", "FOP"], curves.Families("base"));
        // Evaluated after every step from the first epoch end on: a crossing after it is known to one step.
        Assert.All(curves.Runs, r => Assert.True(r.At(0.05).Step == 4 || r.At(0.05).Resolution == 1));
        Assert.Equal([0.01, 0.02], RateCurves.Rates(curves.Runs, "base", "SGD"));
    }

    [Theory]
    [InlineData("""{ "label": "a", "grid": { "key": "lr", "values": [] } }""", "at least one value")]
    [InlineData("""{ "label": "a", "grid": { "key": "lr", "values": [0.1, 0.1] } }""", "repeat")]
    [InlineData("""{ "label": "a", "grid": { "key": "", "values": [0.1] } }""", "grid.key")]
    [InlineData("""{ "label": "a", "grid": { "values": [0.1] } }, { "label": "a lr 0.1" }""", "labels must be unique")]
    public void ABadGridIsRejectedNamingTheFile(string variants, string expected)
    {
        var path = WriteStudy($$"""{ "name": "s", "configs": ["base.json"], "variants": [{{variants}}] }""");
        var e = Assert.ThrowsAny<ArgumentException>(() => StudyFile.Load(path));
        Assert.Contains(path, e.Message);
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void AGridDoesNotMixWithTuningAndOnlyRunLogsCanBeKept()
    {
        var tuned = WriteStudy("""{ "name": "s", "configs": ["base.json"], "variants": [{ "label": "a", "grid": { "values": [0.1] } }], "tune": { "key": "lr" }, "seeds": [1] }""");
        Assert.Contains("grid", Assert.ThrowsAny<ArgumentException>(() => StudyFile.Load(tuned)).Message);
        var records = WriteStudy("""{ "name": "s", "configs": ["base.json"], "variants": [{ "label": "a" }], "records": ["checkpoint.bin"] }""");
        Assert.Contains("records", Assert.ThrowsAny<ArgumentException>(() => StudyFile.Load(records)).Message);
    }

    [Fact]
    public void AFinishedRunStandsInForAFinelyEvaluatedOneOnlyWhenItsRecordsHoldEveryEvaluation()
    {
        var baseConfig = Reliability.ResumeAndRecordTests.SmallRun(dir, "sgd", "validation_examples=24", "epochs=2");
        using var data = RunData.Load(baseConfig);
        var other = Path.Combine(dir, "other");
        // Batch 96 = the whole training set: one step per epoch, every step evaluated at its epoch end.
        var full = ConfigFile.Override(baseConfig, ["name=full", "batch_size=96"]).Validate();
        new Trainer(full, data).Run(Path.Combine(other, "full"));
        var small = ConfigFile.Override(baseConfig, ["name=small"]).Validate();
        new Trainer(small, data).Run(Path.Combine(other, "small"));

        RunConfig Fine(RunConfig c, double above) => ConfigFile.Override(c, ["name=planned", $"eval_every_step_above={above}"]).Validate();
        Assert.Equal(Path.Combine(other, "full"), RunReuse.Find(Fine(full, 0.001), [other]));
        // Four steps per epoch: a run that reached the level would have been evaluated between steps, so it cannot stand in...
        Assert.Null(RunReuse.Find(Fine(small, 0.001), [other]));
        // ...unless its validation accuracy never reached the level (a run that diverged early): then nothing would differ.
        Assert.Equal(Path.Combine(other, "small"), RunReuse.Find(Fine(small, 0.999), [other]));
        // Any other difference still makes it another run.
        Assert.Null(RunReuse.Find(ConfigFile.Override(Fine(full, 0.001), ["lr=0.02"]).Validate(), [other]));
    }

    [Theory]
    [InlineData("fmnist-curves-b8192", 45, 2)]       // the fair tuning's seed-0 runs at 0.012 diverged below 80%
    [InlineData("fmnist-curves-b55000", 39, 23)]     // one step per epoch: every seed-0 run, seeds 1-2 at the chosen and swapped rates
    [InlineData("fmnist-curves-mechanism", 18, 0)]
    [InlineData("fmnist-curves-cnn", 16, 0)]
    [InlineData("fmnist-curves-newopt-b8192", 51, 0)]      // Shampoo's and SOAP's grids extended to 0.032 after their seed-0 runs peaked at the edge
    public void TheCurvesStudiesPlanTheirRunsAndReuseTheFairStudysWhereNothingWouldDiffer(string name, int runs, int reused)
    {
        var root = Data.DatasetFiles.RepositoryRoot() ?? throw new InvalidOperationException("repository root not found");
        var file = Path.Combine(root, "experiments", "studies", name + ".json");
        // As experiments/scripts/curves-study.sh runs them: one thread, pinned to one core.
        var study = StudyFile.Load(file) with { Common = [.. StudyFile.Load(file).Common, "threads=1"] };
        var plan = VariantStudy.Plan(study, Path.GetDirectoryName(file)!, Path.Combine(root, "experiments", "results"));
        Assert.Equal(runs, plan.Count);
        Assert.Equal(runs, plan.Select(p => p.Config.Name).Distinct().Count());
        var dirs = study.Reuse.Select(s => Path.Combine(root, "experiments", "results", s, "runs")).ToList();
        Assert.Equal(reused, plan.Count(p => RunReuse.Find(p.Config, dirs) is not null));
    }
}
