using Fop.Research.Training;

namespace Fop.Research.Studies;

/// <summary>
/// Runs a study's training runs one after another under one folder. A run whose summary.json exists is read back, not
/// re-run; an interrupted run resumes from its checkpoint. A study that plans its next runs only from earlier summaries
/// therefore resumes anywhere by being started again.
/// </summary>
public sealed class StudyRunner : IDisposable
{
    readonly Func<RunConfig, string, RunSummary> train;
    readonly Dictionary<string, RunData> data = new();
    readonly List<RunSummary> summaries = new();

    /// <summary>Creates a runner writing run folders under <paramref name="runsDir"/>; <paramref name="train"/> trains one config in a folder (resuming it).</summary>
    public StudyRunner(string runsDir, Func<RunConfig, string, RunSummary>? train = null)
    {
        RunsDir = runsDir;
        this.train = train ?? ((config, dir) => new Trainer(config, Data(config)).Run(dir, resume: true));
    }

    /// <summary>Folder holding one sub-folder per run.</summary>
    public string RunsDir { get; }
    /// <summary>Every run done or read back so far, in order.</summary>
    public IReadOnlyList<RunSummary> Summaries => summaries;
    /// <summary>Runs trained (not read back) by this runner so far.</summary>
    public int TrainedCount { get; private set; }
    /// <summary>Runs taken from another study's finished run with the same settings (see <see cref="ReuseDirs"/>) so far.</summary>
    public int ReusedCount { get; private set; }
    /// <summary>Called with a line when a run is read back instead of trained.</summary>
    public Action<string>? OnMessage { get; init; }
    /// <summary>
    /// Folder of committed run records (config.json, summary.json, metrics.csv per run; a study's results/runs): a run
    /// finished there counts as finished, so a study resumes on a fresh checkout without its ignored run folders (null: none).
    /// </summary>
    public string? ArchiveDir { get; init; }
    /// <summary>Folders of other studies' run folders (and their archives) whose finished runs stand in for a planned run made with the same settings (<see cref="RunReuse"/>).</summary>
    public IReadOnlyList<string> ReuseDirs { get; init; } = [];

    /// <summary>The folder of the run named <paramref name="name"/>: its run folder, or its archived record when only that is finished.</summary>
    public string RunDir(string name)
    {
        var dir = Path.Combine(RunsDir, name);
        if (File.Exists(Path.Combine(dir, "summary.json")) || ArchiveDir is null) return dir;
        var archived = Path.Combine(ArchiveDir, name);
        return File.Exists(Path.Combine(archived, "summary.json")) ? archived : dir;
    }

    /// <summary>
    /// Refuses (<see cref="ResumeConflictException"/>) when <paramref name="config"/>'s run is finished with other settings: a study
    /// re-run with changed settings must not report old results under the new settings. A study checks its whole plan with this
    /// before it runs or writes anything.
    /// </summary>
    public void Check(RunConfig config)
    {
        var dir = RunDir(config.Name);
        var stored = Path.Combine(dir, "config.json");
        if (!File.Exists(Path.Combine(dir, "summary.json")) || !File.Exists(stored)) return;
        // The target may be fixed after a run (the scaling study derives it from its SGD runs): it only decides where
        // time-to-target is read off metrics.csv, so a different target does not make the run another run.
        if (ConfigDifferences.TrajectoryChanging(ConfigFile.Load(stored), config).Where(d => d.Key != "target_accuracy").ToList() is { Count: > 0 } changed)
            throw new ResumeConflictException($"{stored}: this finished run was made with other settings than the study now asks for " +
                $"(run's -> requested: {string.Join("; ", changed)}). Write the study to a new folder, or delete {dir} to redo the run.");
    }

    /// <summary>Trains <paramref name="config"/> (named uniquely within the study), or reads its summary when it is complete (in its folder or the archive).</summary>
    public RunSummary Run(RunConfig config)
    {
        var dir = RunDir(config.Name);
        var path = Path.Combine(dir, "summary.json");
        RunSummary summary;
        if (File.Exists(path))
        {
            Check(config);
            summary = RunSummary.Read(path);
            OnMessage?.Invoke($"{config.Name}: complete, read back");
        }
        else if (ReuseDirs.Count > 0 && RunReuse.Find(config, ReuseDirs) is { } source)
        {
            summary = RunReuse.Copy(source, dir, config);
            ReusedCount++;
            OnMessage?.Invoke($"{config.Name}: the same settings as {source}, reused");
        }
        else
        {
            summary = train(config.Validate(), dir);
            TrainedCount++;
        }
        summaries.Add(summary);
        return summary;
    }

    /// <summary>The data a config names, loaded once per data set and imbalance factor and shared by the runs that use it.</summary>
    public RunData Data(RunConfig config)
    {
        var key = $"{config.Dataset}|{config.DataDir}|{config.ImbalanceFactor}|{config.TrainSubset}|{config.TestSubset}|{config.ValidationExamples}|{config.ValidationSeed}";
        if (!data.TryGetValue(key, out var d)) data[key] = d = RunData.Load(config, OnMessage);
        return d;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        foreach (var d in data.Values) d.Dispose();
        data.Clear();
    }
}
