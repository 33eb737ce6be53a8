using System.Text.Json;
using System.Text.Json.Serialization;
using Fop.Research.Training;

namespace Fop.Research.Studies;

/// <summary>One variant of a study file: its label and the <c>key=value</c> overrides that make it.</summary>
public sealed record StudyVariant
{
    /// <summary>Label shown in tables and used (as a slug) in run names.</summary>
    public string Label { get; init; } = "";
    /// <summary>Overrides applied on top of the base config and the study's common overrides.</summary>
    public IReadOnlyList<string> Set { get; init; } = [];
    /// <summary>Settings chosen by another study's tuning, applied before <see cref="Set"/> (null: none).</summary>
    public ChoiceRef? Choice { get; init; }
    /// <summary>Names of the base configs this variant runs on (empty: all of them).</summary>
    public IReadOnlyList<string> Configs { get; init; } = [];
    /// <summary>One variant per value of a key (a rate grid), expanded when the study is validated (null: the variant as written).</summary>
    public VariantGrid? Grid { get; init; }
    /// <summary>The label of the variant a grid expanded into this one (null: not from a grid).</summary>
    [JsonIgnore]
    public string? GridOf { get; init; }
    /// <summary>This variant's value of its grid's key (null: not from a grid).</summary>
    [JsonIgnore]
    public double? GridValue { get; init; }
    /// <summary>The label a curve groups by: the grid's variant for an expanded one, else its own.</summary>
    [JsonIgnore]
    public string Family => GridOf ?? Label;

    /// <summary>The overrides that make this variant on the base config named <paramref name="config"/>: the referenced choice's, then <see cref="Set"/>.</summary>
    public IReadOnlyList<string> Overrides(string config, string resultsRoot) => Choice is null ? Set : Choice.Overrides(resultsRoot, config).Concat(Set).ToList();

    /// <summary>Whether the variant runs on the base config named <paramref name="config"/>.</summary>
    public bool RunsOn(string config) => Configs.Count == 0 || Configs.Contains(config);
}

/// <summary>
/// A study declared in a file under experiments/studies/: base configs x variants x seeds, every run under one folder,
/// paired differences against a reference variant. JSON with the conventions of run configs (snake_case, comments allowed,
/// unknown keys rejected); config paths are relative to the study file.
/// </summary>
public sealed record StudyFile
{
    /// <summary>Study name: the folder of its runs and of its results.</summary>
    public string Name { get; init; } = "";
    /// <summary>What the study asks, in one or two sentences (copied into table.md).</summary>
    public string Question { get; init; } = "";
    /// <summary>Base run configs (paths relative to the study file).</summary>
    public IReadOnlyList<string> Configs { get; init; } = [];
    /// <summary>Overrides applied to every base config before the variant's.</summary>
    public IReadOnlyList<string> Common { get; init; } = [];
    /// <summary>The variants; every config runs every variant.</summary>
    public IReadOnlyList<StudyVariant> Variants { get; init; } = [];
    /// <summary>Seeds; runs with the same seed (and config) are paired.</summary>
    public IReadOnlyList<long> Seeds { get; init; } = [0];
    /// <summary>The variant every other is compared with, paired by seed (default: the first).</summary>
    public string? Reference { get; init; }
    /// <summary>Accuracy thresholds for time-to-target (validation accuracy where runs have a split, else test; default: each config's target_accuracy).</summary>
    public IReadOnlyList<double> Targets { get; init; } = [];
    /// <summary>A further threshold derived from one cell of the study (null: none).</summary>
    public DerivedTarget? TargetFrom { get; init; }
    /// <summary>Tune a key per config and variant on validation before the seeds run (null: the variants run as written).</summary>
    public TuneSpec? Tune { get; init; }
    /// <summary>Names of other studies whose finished runs stand in for this study's runs with the same settings (not trained twice).</summary>
    public IReadOnlyList<string> Reuse { get; init; } = [];
    /// <summary>Logs of every run kept in the results beside config, summary, metrics and evals (steps.csv, layers.csv, noise.csv), e.g. for a mechanism study of long runs.</summary>
    public IReadOnlyList<string> Records { get; init; } = [];

    /// <summary>The run logs a study may keep in its results (checkpoints never: they are large and rewritten).</summary>
    public static IReadOnlyList<string> Keepable { get; } = ["steps.csv", "layers.csv", "noise.csv"];

    /// <summary>The reference variant's label.</summary>
    public string ReferenceLabel => Reference ?? Variants[0].Label;

    /// <summary>Reads and validates a study file; every defect names the file.</summary>
    public static StudyFile Load(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: study file not found.", path);
        StudyFile study;
        try { study = JsonSerializer.Deserialize<StudyFile>(File.ReadAllText(path), ConfigFile.Json) ?? throw new JsonException("empty study file"); }
        catch (JsonException e) { throw new ArgumentException($"{path}: {e.Message}", e); }
        try { return study.Validate(); }
        catch (ArgumentException e) { throw new ArgumentException($"{path}: {e.Message}", e); }
    }

    /// <summary>Checks names, labels, seeds and targets; returns this, with every grid variant expanded into one variant per value.</summary>
    public StudyFile Validate()
    {
        if (Variants.Any(v => v.Grid is not null))
        {
            if (Tune is not null) throw new ArgumentException("variants: a grid declares the values to run; a tuned study searches for one (use one or the other).");
            return (this with { Variants = Variants.SelectMany(v => v.Grid?.Expand(v) ?? [v]).ToList() }).Validate();
        }
        if (string.IsNullOrWhiteSpace(Name) || Name.IndexOfAny(Path.GetInvalidFileNameChars()) >= 0 || Name.Contains(' '))
            throw new ArgumentException($"name '{Name}' must be a non-empty folder name without spaces.");
        if (Configs.Count == 0) throw new ArgumentException("configs: a study needs at least one base config.");
        if (Variants.Count == 0) throw new ArgumentException("variants: a study needs at least one variant (one with \"set\": [] is the base config).");
        if (Variants.Any(v => string.IsNullOrWhiteSpace(v.Label))) throw new ArgumentException("variants: every variant needs a label.");
        if (Variants.Select(v => Slug(v.Label)).Distinct().Count() != Variants.Count) throw new ArgumentException("variants: labels must be unique (ignoring case and punctuation).");
        if (Seeds.Count == 0 || Seeds.Distinct().Count() != Seeds.Count) throw new ArgumentException("seeds: at least one seed, no repeats.");
        if (Reference is { } r && Variants.All(v => v.Label != r)) throw new ArgumentException($"reference '{r}' is not a variant label ({string.Join(", ", Variants.Select(v => v.Label))}).");
        if (Targets.Any(t => !(t > 0 && t <= 1))) throw new ArgumentException("targets must lie in (0, 1].");
        if (TargetFrom is { } from)
        {
            if (Variants.All(v => v.Label != from.Variant)) throw new ArgumentException($"target_from.variant '{from.Variant}' is not a variant label.");
            if (!(from.Margin >= 0 && from.Margin < 1)) throw new ArgumentException($"target_from.margin {from.Margin} must lie in [0, 1).");
        }
        Tune?.Validate(Variants.Select(v => v.Label).ToList(), Seeds);
        if (Tune is not null && Variants.Any(v => v.Choice is not null)) throw new ArgumentException("variants: a tuned study tunes its own settings; choice (another study's settings) is for untuned studies.");
        if (Variants.FirstOrDefault(v => v.Choice is { } c && (string.IsNullOrWhiteSpace(c.Study) || string.IsNullOrWhiteSpace(c.Variant))) is { } bad)
            throw new ArgumentException($"variants: '{bad.Label}': choice needs study and variant.");
        if (Reuse.Any(r => string.IsNullOrWhiteSpace(r) || r == Name)) throw new ArgumentException("reuse: names of other studies (not empty, not this study).");
        if (Records.FirstOrDefault(r => !Keepable.Contains(r)) is { } log) throw new ArgumentException($"records: '{log}' is not one of {string.Join(", ", Keepable)}.");
        return this;
    }

    /// <summary>The base configs with the common overrides, resolved relative to <paramref name="studyDir"/> and named after their files.</summary>
    public IReadOnlyList<RunConfig> BaseConfigs(string studyDir) =>
        Configs.Select(c => ConfigFile.Load(Path.Combine(studyDir, c), Common)).ToList();

    /// <summary>A label as a run-name fragment: lower case, letters, digits and dots, other characters as dashes.</summary>
    public static string Slug(string label) =>
        string.Concat(label.ToLowerInvariant().Select(c => char.IsLetterOrDigit(c) || c == '.' ? c : '-')).Trim('-');
}
