using System.Globalization;

namespace Fop.Research.Studies;

/// <summary>
/// A variant declared once for several values of one key (a learning-rate grid): the study file expands it into one variant
/// per value, labelled "label key value", so a rate-sensitivity curve is a plain declarative study (resumable, reusable runs).
/// </summary>
public sealed record VariantGrid
{
    /// <summary>The config key that takes each value (e.g. lr).</summary>
    public string Key { get; init; } = "lr";
    /// <summary>The values, each written to the key exactly as given (e.g. a geometric grid of rates).</summary>
    public IReadOnlyList<double> Values { get; init; } = [];

    /// <summary>Checks the key and values of the grid of variant <paramref name="label"/>; returns this.</summary>
    public VariantGrid Validate(string label)
    {
        if (string.IsNullOrWhiteSpace(Key) || Key.Contains('=')) throw new ArgumentException($"variants: '{label}': grid.key must name a config key (e.g. lr).");
        if (Values.Count == 0) throw new ArgumentException($"variants: '{label}': grid.values needs at least one value.");
        if (Values.Any(v => !double.IsFinite(v))) throw new ArgumentException($"variants: '{label}': grid.values must be finite numbers.");
        if (Values.Distinct().Count() != Values.Count) throw new ArgumentException($"variants: '{label}': grid.values has a repeat.");
        return this;
    }

    /// <summary>A value as written into labels and overrides: the shortest text that reads back as the same number.</summary>
    public static string Text(double value) => value.ToString("R", CultureInfo.InvariantCulture);

    /// <summary>The variants this grid makes from <paramref name="variant"/>, one per value in the order given.</summary>
    public IReadOnlyList<StudyVariant> Expand(StudyVariant variant) => Validate(variant.Label).Values.Select(v => variant with
    {
        Label = $"{variant.Label} {Key} {Text(v)}",
        Set = variant.Set.Append($"{Key}={Text(v)}").ToList(),
        Grid = null,
        GridOf = variant.Label,
        GridValue = v,
    }).ToList();
}
