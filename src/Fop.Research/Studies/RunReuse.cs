using Fop.Research.Io;
using Fop.Research.Training;

namespace Fop.Research.Studies;

/// <summary>Where a reused run's records came from (reused.json in its folder).</summary>
/// <param name="ReusedFrom">The finished run folder the records were copied from.</param>
/// <param name="OriginalName">That run's name.</param>
public sealed record ReuseRecord(string ReusedFrom, string OriginalName);

/// <summary>
/// Lets a study take a finished run of another study whose config equals the planned one in every setting but its name and
/// where it writes (the damping study's damping-1e-3 runs are the scaling study's seed runs): its records are copied rather
/// than the same trajectory trained twice, and reused.json says from where.
/// </summary>
public static class RunReuse
{
    /// <summary>
    /// Keys that may differ between a planned run and the run that stands in for it: its name, where it reads and writes, the
    /// target (which only decides where time-to-target is read), and the thread count (how a study shares the machine; a
    /// resumed run may change it too, see <see cref="ConfigDifferences.Extending"/>).
    /// </summary>
    public static IReadOnlySet<string> Ignored { get; } = new HashSet<string> { "name", "output_dir", "data_dir", "checkpoint_every_steps", "target_accuracy", "threads" };

    /// <summary>Keys of evaluation between steps: a planned run may have them where the finished run did not, when that run's records already hold what they would add (<see cref="EvaluatedAsFinely"/>).</summary>
    public static IReadOnlySet<string> FineEvaluation { get; } = new HashSet<string> { "eval_every_step_above", "eval_every_step_until" };

    static readonly string[] Records = ["metrics.csv", "evals.csv", "steps.csv", "layers.csv", "noise.csv"];

    /// <summary>The first finished run folder under <paramref name="searchDirs"/> (folders of run folders) made with the settings of <paramref name="config"/>, or null.</summary>
    public static string? Find(RunConfig config, IEnumerable<string> searchDirs) =>
        searchDirs.Where(Directory.Exists).SelectMany(d => Directory.EnumerateDirectories(d).Order(StringComparer.Ordinal))
            .FirstOrDefault(dir => File.Exists(Path.Combine(dir, "summary.json")) && File.Exists(Path.Combine(dir, "config.json")) && Same(dir, config));

    static bool Same(string dir, RunConfig config)
    {
        var differences = ConfigDifferences.Between(ConfigFile.Load(Path.Combine(dir, "config.json")), config).Where(d => !Ignored.Contains(d.Key)).ToList();
        return differences.Count == 0 || (differences.All(d => FineEvaluation.Contains(d.Key)) && EvaluatedAsFinely(dir, config));
    }

    /// <summary>
    /// Whether a finished run made without evaluation between steps has every evaluation the planned <paramref name="config"/>
    /// would have made: it took one step per epoch (every step was evaluated at its epoch end: the full-batch runs), or its
    /// validation accuracy never reached eval_every_step_above (the planned run would never have switched it on: a run that
    /// diverged early). Its metrics.csv then carries what evals.csv would.
    /// </summary>
    public static bool EvaluatedAsFinely(string dir, RunConfig config)
    {
        var source = ConfigFile.Load(Path.Combine(dir, "config.json"));
        if (source.EvalEveryStepAbove is not null || config.EvalEveryStepAbove is not double above || !File.Exists(Path.Combine(dir, "metrics.csv"))) return false;
        var epochs = EpochMetrics.Read(dir);
        return epochs.All(m => m.Steps == m.Epoch) || epochs.All(m => m.HasValidation && m.ValAccuracy < above);
    }

    /// <summary>
    /// Copies the records of <paramref name="sourceDir"/> into <paramref name="targetDir"/> as the run <paramref name="config"/>
    /// names, with that name in its summary; the summary is written last, so a copy interrupted midway is made again.
    /// </summary>
    public static RunSummary Copy(string sourceDir, string targetDir, RunConfig config)
    {
        Directory.CreateDirectory(targetDir);
        foreach (var name in Records)
        {
            var from = Path.Combine(sourceDir, name);
            if (File.Exists(from)) AtomicFile.Write(Path.Combine(targetDir, name), s => { using var f = File.OpenRead(from); f.CopyTo(s); });
        }
        AtomicFile.WriteAllText(Path.Combine(targetDir, "config.json"), ConfigFile.ToJson(config));
        var source = RunSummary.Read(Path.Combine(sourceDir, "summary.json"));
        RunJson.Write(Path.Combine(targetDir, "reused.json"), new ReuseRecord(sourceDir, source.Name));
        var summary = source with { Name = config.Name };
        RunJson.Write(Path.Combine(targetDir, "summary.json"), summary);
        return summary;
    }
}
