namespace Fop.Research.Studies;

/// <summary>
/// A threshold derived from the study's own runs: the mean best validation accuracy over the seeds of one (config, variant)
/// cell, minus a margin (the paper's "SGD-derived target": small-batch SGD's accuracy less a point).
/// </summary>
public sealed record DerivedTarget
{
    /// <summary>Base config name of the cell.</summary>
    public string Config { get; init; } = "";
    /// <summary>Variant label of the cell.</summary>
    public string Variant { get; init; } = "";
    /// <summary>Subtracted from the cell's mean best validation accuracy (0-1).</summary>
    public double Margin { get; init; } = 0.01;

    /// <summary>The threshold from the cell's seed runs (rounded to 4 decimals), or null while none of them has finished.</summary>
    public double? From(IReadOnlyList<StudyRun> runs)
    {
        var mine = runs.Where(r => r.Config == Config && r.Variant == Variant && double.IsFinite(r.Summary.BestValAccuracy)).ToList();
        return mine.Count == 0 ? null : Math.Round(mine.Average(r => r.Summary.BestValAccuracy) - Margin, 4);
    }

    /// <summary>A label for tables, e.g. "SGD on mlp-b512 − 1 point".</summary>
    public string Label => $"{Variant} on {Config} − {Margin * 100:g3} point(s)";
}
