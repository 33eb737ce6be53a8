using Fop.Research.Studies;
using Fop.Research.Training;

namespace Fop.Research.Tests;

/// <summary>Studies declared in files: intervals are Student-t, every variant gets its overrides, seeds pair, runs are read back, bad files are named.</summary>
public sealed class StudyFileTests : IDisposable
{
    readonly string dir = Directory.CreateTempSubdirectory("fop-studyfile-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    [Fact]
    public void IntervalsUseStudentTQuantiles()
    {
        Assert.Equal(12.706, ConfidenceInterval.TQuantile975(1), 3);
        // Closed forms: t with 1 degree of freedom is Cauchy, tan(pi (p - 1/2)); with 2, (2p - 1) sqrt(2 / (4 p (1 - p))).
        Assert.Equal(Math.Tan(Math.PI * 0.475), ConfidenceInterval.TQuantile975(1), 9);
        Assert.Equal(0.95 * Math.Sqrt(2 / (4 * 0.975 * 0.025)), ConfidenceInterval.TQuantile975(2), 9);
        Assert.Equal(2.776, ConfidenceInterval.TQuantile975(4), 3);
        Assert.Equal(2.0211, ConfidenceInterval.TQuantile975(40), 3);
        Assert.Equal(1.9840, ConfidenceInterval.TQuantile975(100), 3);
        var ci = ConfidenceInterval.Of([1, 2, 3, 4, 5, double.NaN]);
        Assert.Equal(5, ci.Count);
        Assert.Equal(3, ci.Mean, 12);
        Assert.Equal(ConfidenceInterval.TQuantile975(4) * Math.Sqrt(2.5) / Math.Sqrt(5), ci.HalfWidth, 12);
        Assert.Equal(2.776 * Math.Sqrt(2.5) / Math.Sqrt(5), ci.HalfWidth, 3);
        Assert.True(ci.Excludes(0.9) && !ci.Excludes(1.1));
        var one = ConfidenceInterval.Of([7]);
        Assert.True(double.IsNaN(one.HalfWidth));
        Assert.False(one.Excludes(0));
        Assert.Equal("7 (n=1)", one.ToString("0"));
        Assert.Equal("-", ConfidenceInterval.Of([]).ToString("0"));
        Assert.Equal("-1 ± 2.5", ConfidenceInterval.Of([-2, 0, -1]).ToString("+0.#;-0.#;0"));
    }

    string WriteStudy(string json)
    {
        var config = Reliability.ResumeAndRecordTests.SmallRun(dir, "sgd", "name=base", "epochs=2", "lr=0.05");
        File.WriteAllText(Path.Combine(dir, "base.json"), ConfigFile.ToJson(config));
        var path = Path.Combine(dir, "study.json");
        File.WriteAllText(path, json);
        return path;
    }

    [Fact]
    public void AStudyRunsEveryVariantWithEverySeedPairsThemAndReadsThemBack()
    {
        var path = WriteStudy("""
            // comments are allowed, as in run configs
            { "name": "s", "question": "Does a smaller step cost accuracy?", "configs": ["base.json"], "common": ["epochs=1"],
              "variants": [ { "label": "lr 0.05", "set": [] }, { "label": "lr 0.01", "set": ["lr=0.01"] } ],
              "seeds": [3, 4], "targets": [0.05, 1.0] }
            """);
        var study = StudyFile.Load(path);
        using var runner = new StudyRunner(Path.Combine(dir, "runs"));
        var runs = VariantStudy.Run(study, dir, runner);
        Assert.Equal(["base-lr-0.05-s3", "base-lr-0.01-s3", "base-lr-0.05-s4", "base-lr-0.01-s4"], runs.Select(r => r.Summary.Name));
        Assert.Equal([0.05, 0.01, 0.05, 0.01], runs.Select(r => ConfigFile.Load(Path.Combine(r.RunDir, "config.json")).Lr));
        Assert.All(runs, r => Assert.Equal(1, r.Summary.EpochsRun));
        Assert.Equal(4, runs.Select(r => r.Seed).Zip(runs.Select(r => ConfigFile.Load(Path.Combine(r.RunDir, "config.json")).Seed)).Count(p => p.First == p.Second));
        Assert.Equal(2, VariantStudy.Pairs(runs, "base", "lr 0.01", "lr 0.05").Count);

        var results = Path.Combine(dir, "results");
        VariantStudy.Write(results, study, runs, "provenance line");
        var csv = File.ReadAllLines(Path.Combine(results, "results.csv"));
        Assert.Equal(5, csv.Length);
        Assert.EndsWith("epochs_to_0.05,seconds_to_0.05,epochs_to_1,seconds_to_1", csv[0]);
        var first = csv[1].Split(',');
        Assert.Equal(("1", "", ""), (first[^4], first[^2], first[^1]));
        Assert.All(runs, r => Assert.True(File.Exists(Path.Combine(results, "runs", r.Summary.Name, "metrics.csv"))));
        var table = File.ReadAllText(Path.Combine(results, "table.md"));
        Assert.Contains("Does a smaller step cost accuracy?", table);
        Assert.Contains("| lr 0.01 | 2/2 |", table);
        Assert.Contains("| lr 0.05 | 2 | 2/2 | 1 ± 0 |", table);
        Assert.Contains("0/2 | - | - |", table);

        var start = new DateTime(2026, 11, 29, 10, 0, 0, DateTimeKind.Utc);
        VariantStudy.RecordInvocation(results, "./fop study study.json", "abc123", "test machine", start, TimeSpan.FromSeconds(30), 2, 4, finished: false);
        VariantStudy.RecordInvocation(results, "./fop study study.json", "abc123", "test machine", start, TimeSpan.FromSeconds(61), 4, 4, finished: true);
        VariantStudy.RecordInvocation(results, "./fop study study.json", "abc123", "test machine", start.AddHours(1), TimeSpan.FromSeconds(1), 0, 4, finished: false);
        var invocations = File.ReadAllLines(Path.Combine(results, "invocations.md"));
        // One line per invocation, rewritten as it goes: the first finished, the second still marked as running or interrupted.
        Assert.Equal(6, invocations.Length);
        Assert.Contains("| 00:01:01 | 4 / 4 |", invocations[4]);
        Assert.DoesNotContain("running", invocations[4]);
        Assert.Contains("(running or interrupted)", invocations[5]);

        using var again = new StudyRunner(Path.Combine(dir, "runs"));
        var reread = VariantStudy.Run(study, dir, again);
        Assert.Equal(0, again.TrainedCount);
        Assert.Equal(runs.Select(r => r.Summary.BestTestAccuracy), reread.Select(r => r.Summary.BestTestAccuracy));

        // An interrupted run (its checkpoint, no summary) is the only one trained again, and ends where it had.
        var victim = runs[^1];
        File.Delete(Path.Combine(dir, "runs", victim.Summary.Name, "summary.json"));
        using var third = new StudyRunner(Path.Combine(dir, "runs"));
        var resumed = VariantStudy.Run(study, dir, third);
        Assert.Equal(1, third.TrainedCount);
        Assert.Equal(victim.Summary.BestTestAccuracy, resumed[^1].Summary.BestTestAccuracy);
    }

    [Theory]
    [InlineData("""{ "name": "s", "configs": ["base.json"], "variants": [{ "label": "a" }], "typo": 1 }""", "typo")]
    [InlineData("""{ "name": "s", "configs": ["base.json"], "variants": [{ "label": "A b" }, { "label": "a-b" }] }""", "labels must be unique")]
    [InlineData("""{ "name": "s", "configs": ["base.json"], "variants": [{ "label": "a" }], "reference": "b" }""", "reference 'b'")]
    [InlineData("""{ "name": "s", "configs": [], "variants": [{ "label": "a" }] }""", "at least one base config")]
    [InlineData("""{ "name": "s", "configs": ["base.json"], "variants": [{ "label": "a" }], "targets": [88] }""", "targets must lie")]
    [InlineData("""{ "name": "s", "configs": ["base.json"], "variants": [{ "label": "a" }], "seeds": [1, 1] }""", "no repeats")]
    public void ABadStudyFileIsRejectedNamingTheFile(string json, string expected)
    {
        var path = WriteStudy(json);
        var e = Assert.ThrowsAny<ArgumentException>(() => StudyFile.Load(path));
        Assert.Contains(path, e.Message);
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void AnInvalidVariantFailsBeforeAnyRun()
    {
        var path = WriteStudy("""{ "name": "s", "configs": ["base.json"], "variants": [{ "label": "ok" }, { "label": "bad", "set": ["lr=-1"] }] }""");
        using var runner = new StudyRunner(Path.Combine(dir, "runs"));
        Assert.ThrowsAny<ArgumentException>(() => VariantStudy.Run(StudyFile.Load(path), dir, runner));
        Assert.False(Directory.Exists(Path.Combine(dir, "runs", "base-ok-s0")));
    }
}
