using System.Text.Json;
using Fop.Research.Io;
using Fop.Research.Training;

namespace Fop.Research.Studies;

/// <summary>
/// A variant's settings taken from another study's tuning: the overrides of the choice for (config, variant) in
/// <c>&lt;results&gt;/&lt;study&gt;/choices.json</c>, so an ablation runs at the settings the tuned study selected, never at
/// a hand-copied number. <see cref="Config"/> null means the base config of the same name as the run's.
/// </summary>
public sealed record ChoiceRef
{
    /// <summary>Name of the tuned study (its results folder).</summary>
    public string Study { get; init; } = "";
    /// <summary>Base config name in that study (null: the run's own base config name).</summary>
    public string? Config { get; init; }
    /// <summary>Variant label in that study.</summary>
    public string Variant { get; init; } = "";

    /// <summary>Writes choices.json: every settled choice of a tuned study.</summary>
    public static void Write(string resultsDir, IReadOnlyList<TuningChoice> choices) =>
        AtomicFile.WriteAllText(Path.Combine(resultsDir, "choices.json"), JsonSerializer.Serialize(choices, ConfigFile.Json));

    /// <summary>The overrides of the referenced choice, read from under <paramref name="resultsRoot"/>; missing files or cells say which study to run first.</summary>
    public IReadOnlyList<string> Overrides(string resultsRoot, string runConfig)
    {
        var path = Path.Combine(resultsRoot, Study, "choices.json");
        if (!File.Exists(path))
            throw new FileNotFoundException($"{path}: no choices yet; run the tuned study '{Study}' until its grids settle (./fop study experiments/studies/{Study}.json).", path);
        var choices = JsonSerializer.Deserialize<List<TuningChoice>>(File.ReadAllText(path), ConfigFile.Json) ?? [];
        var config = Config ?? runConfig;
        return choices.FirstOrDefault(c => c.Config == config && c.Variant == Variant)?.Overrides
               ?? throw new ArgumentException($"{path}: no choice for config '{config}', variant '{Variant}' (it has {string.Join(", ", choices.Select(c => $"{c.Config}/{c.Variant}"))}).");
    }
}
