using System.Text.Json;
using System.Text.Json.Nodes;

namespace Fop.Research.Training;

/// <summary>One key whose value differs between two configs.</summary>
/// <param name="Key">Dotted config key, e.g. <c>kfac.damping</c>.</param>
/// <param name="Old">The value in the run's own config.json (JSON text).</param>
/// <param name="New">The value asked for now (JSON text).</param>
public sealed record ConfigDifference(string Key, string Old, string New)
{
    /// <inheritdoc />
    public override string ToString() => $"{Key}: {Old} -> {New}";
}

/// <summary>
/// Which settings may change when a run is resumed. A resumed run must continue the trajectory it started, so only keys
/// that extend it (more epochs or steps), say where files go, or say where it runs may differ; anything else is a new
/// experiment and belongs in a fork (<c>--fork NAME</c>).
/// </summary>
public static class ConfigDifferences
{
    /// <summary>Keys that may differ on resume: they extend the run, choose where it runs or writes, or only change diagnostics and when it stops (the target itself is fixed: time-to-target is measured against it).</summary>
    public static IReadOnlySet<string> Extending { get; } = new HashSet<string>
    {
        "epochs", "max_steps", "output_dir", "data_dir", "device", "threads", "checkpoint_every_steps", "eval_batch_size",
        "stop_at_target", "abandon_below", "abandon_after_epochs", "fop.diagnostics_interval", "noise_interval",
        // Evaluating the validation split between steps reads the weights and changes nothing (a test holds it bit-identical).
        "eval_every_step_above", "eval_every_step_until",
    };

    /// <summary>Every key whose value differs, in key order.</summary>
    public static IReadOnlyList<ConfigDifference> Between(RunConfig old, RunConfig @new)
    {
        var a = Flatten(JsonSerializer.SerializeToNode(old, ConfigFile.Json));
        var b = Flatten(JsonSerializer.SerializeToNode(@new, ConfigFile.Json));
        return a.Keys.Union(b.Keys).Order(StringComparer.Ordinal)
            .Select(k => new ConfigDifference(k, a.GetValueOrDefault(k, "(absent)"), b.GetValueOrDefault(k, "(absent)")))
            .Where(d => d.Old != d.New).ToList();
    }

    /// <summary>The differences that would change the trajectory a resumed run has already followed.</summary>
    public static IReadOnlyList<ConfigDifference> TrajectoryChanging(RunConfig old, RunConfig @new) =>
        Between(old, @new).Where(d => !Extending.Contains(d.Key)).ToList();

    static Dictionary<string, string> Flatten(JsonNode? node)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        void Walk(JsonNode? n, string prefix)
        {
            if (n is JsonObject o)
                foreach (var (k, v) in o) Walk(v, prefix.Length == 0 ? k : $"{prefix}.{k}");
            else result[prefix] = n?.ToJsonString() ?? "null";
        }
        Walk(node, "");
        return result;
    }
}

/// <summary>A resume was refused because the config would change the run's past trajectory; the message lists the keys.</summary>
public sealed class ResumeConflictException(string message) : ArgumentException(message);
