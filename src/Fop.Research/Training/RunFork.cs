using System.Text.Json.Nodes;
using Fop.Research.Io;

namespace Fop.Research.Training;

/// <summary>Where a forked run came from (fork.json in its folder).</summary>
/// <param name="ForkedFrom">The source run folder.</param>
/// <param name="AtStep">Optimizer steps the source had taken at its checkpoint.</param>
/// <param name="AtEpoch">Epochs the source had completed at its checkpoint.</param>
/// <param name="Changes">Every config key that differs from the source's config.</param>
public sealed record ForkRecord(string ForkedFrom, long AtStep, int AtEpoch, IReadOnlyList<string> Changes);

/// <summary>
/// Starts a new run folder from another run's checkpoint with a different config (the way to change, say, the learning
/// rate mid-run without mixing two trajectories in one folder). The logs up to the checkpoint are copied, so the new
/// folder tells the whole story, and fork.json records where it branched.
/// </summary>
public static class RunFork
{
    static readonly string[] Copied = ["checkpoint.bin", "metrics.csv", "steps.csv", "layers.csv", "noise.csv"];

    /// <summary>Prepares <paramref name="targetDir"/> as a fork of <paramref name="sourceDir"/> for <paramref name="config"/>; re-preparing the same fork is a no-op, so an interrupted fork resumes.</summary>
    public static ForkRecord Prepare(string sourceDir, string targetDir, RunConfig config)
    {
        var forkPath = Path.Combine(targetDir, "fork.json");
        if (File.Exists(forkPath))
        {
            var existing = RunJson.Read<ForkRecord>(forkPath);
            if (Path.GetFullPath(existing.ForkedFrom) != Path.GetFullPath(sourceDir))
                throw new ArgumentException($"{targetDir}: already a fork of {existing.ForkedFrom}, not of {sourceDir}; choose another --fork name.");
            // fork.json is written before the copies: a fork killed while copying is copied again, one that got further resumes.
            if (File.Exists(Path.Combine(targetDir, "config.json"))) return existing;
            CopyFrom(sourceDir, targetDir, config);
            return existing;
        }
        if (Path.GetFullPath(sourceDir) == Path.GetFullPath(targetDir)) throw new ArgumentException($"--fork needs a new name: {targetDir} is the source run itself.");
        if (File.Exists(Path.Combine(targetDir, "checkpoint.bin")) || File.Exists(Path.Combine(targetDir, "summary.json")))
            throw new ArgumentException($"{targetDir}: a run already exists there; choose another --fork name.");
        var checkpoint = Path.Combine(sourceDir, "checkpoint.bin");
        if (!File.Exists(checkpoint)) throw new FileNotFoundException($"{checkpoint}: no checkpoint to fork from.", checkpoint);

        var (json, model, optimizer) = Checkpoint.Load(checkpoint);
        foreach (var t in model.Values.Concat(optimizer.Values)) t.Dispose();
        var state = JsonNode.Parse(json)!;
        var sourceConfigPath = Path.Combine(sourceDir, "config.json");
        var changes = File.Exists(sourceConfigPath)
            ? ConfigDifferences.Between(ConfigFile.Load(sourceConfigPath), config).Where(d => d.Key != "name").Select(d => d.ToString()).ToList()
            : ["(source config.json missing)"];
        var record = new ForkRecord(sourceDir, state["global_step"]?.GetValue<long>() ?? 0, state["epoch"]?.GetValue<int>() ?? 0, changes);
        RunJson.Write(forkPath, record);
        CopyFrom(sourceDir, targetDir, config);
        return record;
    }

    /// <summary>Copies the checkpoint and logs, then writes the fork's own config.json last: its presence marks a complete fork.</summary>
    static void CopyFrom(string sourceDir, string targetDir, RunConfig config)
    {
        foreach (var name in Copied)
        {
            var from = Path.Combine(sourceDir, name);
            if (File.Exists(from)) AtomicFile.Write(Path.Combine(targetDir, name), s => { using var f = File.OpenRead(from); f.CopyTo(s); });
        }
        AtomicFile.WriteAllText(Path.Combine(targetDir, "config.json"), ConfigFile.ToJson(config));
    }
}
