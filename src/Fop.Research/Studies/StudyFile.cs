using System.Text.Json;
using Fop.Research.Training;

namespace Fop.Research.Studies;

/// <summary>One variant of a study file: its label and the <c>key=value</c> overrides that make it.</summary>
public sealed record StudyVariant
{
    /// <summary>Label shown in tables and used (as a slug) in run names.</summary>
    public string Label { get; init; } = "";
    /// <summary>Overrides applied on top of the base config and the study's common overrides.</summary>
    public IReadOnlyList<string> Set { get; init; } = [];
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
    /// <summary>Test-accuracy thresholds for time-to-target (default: each config's target_accuracy).</summary>
    public IReadOnlyList<double> Targets { get; init; } = [];

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

    /// <summary>Checks names, labels, seeds and targets; returns this.</summary>
    public StudyFile Validate()
    {
        if (string.IsNullOrWhiteSpace(Name) || Name.IndexOfAny(Path.GetInvalidFileNameChars()) >= 0 || Name.Contains(' '))
            throw new ArgumentException($"name '{Name}' must be a non-empty folder name without spaces.");
        if (Configs.Count == 0) throw new ArgumentException("configs: a study needs at least one base config.");
        if (Variants.Count == 0) throw new ArgumentException("variants: a study needs at least one variant (one with \"set\": [] is the base config).");
        if (Variants.Any(v => string.IsNullOrWhiteSpace(v.Label))) throw new ArgumentException("variants: every variant needs a label.");
        if (Variants.Select(v => Slug(v.Label)).Distinct().Count() != Variants.Count) throw new ArgumentException("variants: labels must be unique (ignoring case and punctuation).");
        if (Seeds.Count == 0 || Seeds.Distinct().Count() != Seeds.Count) throw new ArgumentException("seeds: at least one seed, no repeats.");
        if (Reference is { } r && Variants.All(v => v.Label != r)) throw new ArgumentException($"reference '{r}' is not a variant label ({string.Join(", ", Variants.Select(v => v.Label))}).");
        if (Targets.Any(t => !(t > 0 && t <= 1))) throw new ArgumentException("targets must lie in (0, 1].");
        return this;
    }

    /// <summary>The base configs with the common overrides, resolved relative to <paramref name="studyDir"/> and named after their files.</summary>
    public IReadOnlyList<RunConfig> BaseConfigs(string studyDir) =>
        Configs.Select(c => ConfigFile.Load(Path.Combine(studyDir, c), Common)).ToList();

    /// <summary>A label as a run-name fragment: lower case, letters, digits and dots, other characters as dashes.</summary>
    public static string Slug(string label) =>
        string.Concat(label.ToLowerInvariant().Select(c => char.IsLetterOrDigit(c) || c == '.' ? c : '-')).Trim('-');
}
