using Fop.Research.Plots.Views;
using Fop.Research.Studies;
using Fop.Research.Training;

namespace Fop.Research.Tests;

/// <summary>One-switch-at-a-time ablations: each variant gets exactly its overrides, seeds interleave, finished runs are read back, bad variants fail before anything runs.</summary>
public sealed class AblationTests : IDisposable
{
    readonly string dir = Directory.CreateTempSubdirectory("fop-abl-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    [Fact]
    public void VariantsRunWithTheirOverridesAndAreReadBackWhenDone()
    {
        var config = Reliability.ResumeAndRecordTests.SmallRun(dir, "fop", "name=abl", "epochs=1");
        var variants = Ablation.FopSwitches(0.01).Where(v => v.Label is "paper" or "projection off" or "damping x10").ToList();
        var runs = Ablation.Run(config, variants, [0, 1]);
        Assert.Equal(["paper", "projection off", "damping x10", "paper", "projection off", "damping x10"], runs.Select(r => r.Variant));
        Assert.Equal([0L, 0, 0, 1, 1, 1], runs.Select(r => r.Seed));
        var off = ConfigFile.Load(Path.Combine(runs[1].RunDir, "config.json"));
        Assert.False(off.Fop.Projection);
        Assert.Equal(0.1, ConfigFile.Load(Path.Combine(runs[2].RunDir, "config.json")).Kfac.Damping.Start, 12);
        Assert.Equal(1, ConfigFile.Load(Path.Combine(runs[4].RunDir, "config.json")).Seed);
        var written = runs.Select(r => File.GetLastWriteTimeUtc(Path.Combine(r.RunDir, "summary.json"))).ToList();
        var again = Ablation.Run(config, variants, [0, 1]);
        Assert.Equal(written, again.Select(r => File.GetLastWriteTimeUtc(Path.Combine(r.RunDir, "summary.json"))));
        Assert.Equal(runs.Select(r => r.Summary.BestTestAccuracy), again.Select(r => r.Summary.BestTestAccuracy));
        var changed = Reliability.ResumeAndRecordTests.SmallRun(dir, "fop", "name=abl", "epochs=1", "lr=0.02");
        var conflict = Assert.Throws<ResumeConflictException>(() => Ablation.Run(changed, variants, [0]));
        Assert.Contains("lr: 0.01 -> 0.02", conflict.Message);
        var table = AblationViews.Table(runs);
        Assert.Equal(["paper", "projection off", "damping x10"], Tables.Strings(table, "variant"));
        Assert.All(Tables.Doubles(table, "runs"), n => Assert.Equal(2, n));
        var curves = AblationViews.Curves(runs);
        Assert.Equal(3, ((Research.Plots.Figures.LinePanel)curves.Panels[0]).Series.Count);
        Assert.All(((Research.Plots.Figures.LinePanel)curves.Panels[0]).Series, s => Assert.NotNull(s.Lower));
    }

    [Fact]
    public void AnInvalidVariantFailsBeforeAnyRun()
    {
        var config = Reliability.ResumeAndRecordTests.SmallRun(dir, "fop", "name=bad", "epochs=1");
        var variants = new[] { new AblationVariant("paper", []), new AblationVariant("broken", ["fop.fixed_beta=nan"]) };
        Assert.ThrowsAny<ArgumentException>(() => Ablation.Run(config, variants, [0]));
        Assert.False(Directory.Exists(Path.Combine(dir, "bad")));
        Assert.Throws<ArgumentException>(() => Ablation.Run(config, [new AblationVariant("a", []), new AblationVariant("a", [])], [0]));
    }
}
