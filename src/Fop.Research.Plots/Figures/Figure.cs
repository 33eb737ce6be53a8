namespace Fop.Research.Plots.Figures;

/// <summary>Why a run has no value on a panel's data axis.</summary>
public enum FailureKind
{
    /// <summary>It trained but never reached the panel's target.</summary>
    NotReached,
    /// <summary>It diverged or was abandoned as stalled.</summary>
    Diverged,
}

/// <summary>Runs of a series at one x that have no value on the data axis: drawn at that x in the panel's failure strip, below the data, with their count.</summary>
public sealed record Failure(double X, FailureKind Kind, int Count = 1);

/// <summary>A line (optionally with a shaded band from Lower to Upper, e.g. mean ± std over seeds).</summary>
public sealed record Series(string Label, double[] X, double[] Y, double[]? Lower = null, double[]? Upper = null, bool Markers = false, bool Dashed = false)
{
    /// <summary>Unconnected points in the series' colour, drawn hollow (e.g. tuning runs that diverged, placed on the panel's floor).</summary>
    public IReadOnlyList<(double X, double Y)> Hollow { get; init; } = [];
    /// <summary>Runs with no value here (never reached the target, diverged): drawn in the panel's failure strip, never on the data axis.</summary>
    public IReadOnlyList<Failure> Failures { get; init; } = [];

    /// <summary>The palette colour (series of one group share it, e.g. the seeds of one variant); null: the next colour in order.</summary>
    public int? PaletteIndex { get; init; }

    /// <summary>A thinner line, for one of many drawn together (single seeds under their variant's colour).</summary>
    public bool Thin { get; init; }

    /// <summary>Only the points that can be drawn (finite, and positive on a log axis): a series logged every k-th step still draws as a line.</summary>
    public Series Drawable(bool logX = false, bool logY = false)
    {
        var keep = Enumerable.Range(0, Math.Min(X.Length, Y.Length))
            .Where(i => double.IsFinite(X[i]) && double.IsFinite(Y[i]) && (!logY || Y[i] > 0) && (!logX || X[i] > 0)).ToArray();
        if (keep.Length == X.Length) return this;
        double[]? Pick(double[]? v) => v is null ? null : keep.Select(i => v[i]).ToArray();
        return this with { X = Pick(X)!, Y = Pick(Y)!, Lower = Pick(Lower), Upper = Pick(Upper) };
    }
}

/// <summary>A labelled point (a step's end point, a "not reached" cell).</summary>
public sealed record PointMarker(string Label, double X, double Y, bool Hollow = false);

/// <summary>One panel of a figure.</summary>
public abstract record Panel(string Title, string XLabel, string YLabel);

/// <summary>Lines with optional bands, markers, a dotted target line, log axes and fixed ticks.</summary>
public sealed record LinePanel(string Title, string XLabel, string YLabel, IReadOnlyList<Series> Series) : Panel(Title, XLabel, YLabel)
{
    /// <summary>Labelled points drawn over the lines.</summary>
    public IReadOnlyList<PointMarker> Markers { get; init; } = [];
    /// <summary>A dotted horizontal line (e.g. the target accuracy).</summary>
    public double? Target { get; init; }
    /// <summary>Label of <see cref="Target"/>.</summary>
    public string TargetLabel { get; init; } = "target";
    /// <summary>Further dashed horizontal reference lines with labels.</summary>
    public IReadOnlyList<(string Label, double Y)> References { get; init; } = [];
    /// <summary>Logarithmic x axis.</summary>
    public bool LogX { get; init; }
    /// <summary>Logarithmic y axis.</summary>
    public bool LogY { get; init; }
    /// <summary>Tick positions on x (in data units; labelled with their values), e.g. the batch sizes of a study.</summary>
    public double[]? XTicks { get; init; }
    /// <summary>Fixed y range (null: fit the data, never clipping it).</summary>
    public (double Min, double Max)? YRange { get; init; }
}

/// <summary>A scalar field on a grid: filled contours with a colour bar in PNG, contour and 3-D surface in HTML. Z[j][i] is the value at (X[i], Y[j]).</summary>
public sealed record FieldPanel(string Title, string XLabel, string YLabel, double[] X, double[] Y, double[][] Z, string ColorLabel) : Panel(Title, XLabel, YLabel)
{
    /// <summary>Labelled points drawn on the field.</summary>
    public IReadOnlyList<PointMarker> Markers { get; init; } = [];
    /// <summary>Lines drawn over the field (trajectories, arrows as two-point lines, ellipses), in the legend.</summary>
    public IReadOnlyList<Series> Paths { get; init; } = [];
    /// <summary>Also offer a 3-D surface (HTML only).</summary>
    public bool Surface { get; init; }
    /// <summary>Draw log10 of the values (losses spanning decades).</summary>
    public bool LogValues { get; init; }
}

/// <summary>A heat map with categorical rows (e.g. layers) against a numeric x (e.g. steps); Z[row][i] is the value at X[i].</summary>
public sealed record HeatmapPanel(string Title, string XLabel, string YLabel, double[] X, string[] Rows, double[][] Z, string ColorLabel) : Panel(Title, XLabel, YLabel);

/// <summary>A figure: panels in a grid, a name (file stem) and a caption saying what to look for.</summary>
public sealed record Figure(string Name, string Title, IReadOnlyList<Panel> Panels, string Caption = "", int Columns = 2)
{
    /// <summary>Writes &lt;dir&gt;/&lt;Name&gt;.png and &lt;dir&gt;/&lt;Name&gt;.html; returns both paths.</summary>
    public (string Png, string Html) Save(string dir)
    {
        var png = Path.Combine(dir, Name + ".png");
        var html = Path.Combine(dir, Name + ".html");
        PngRenderer.Save(this, png);
        HtmlRenderer.Save(this, html);
        return (png, html);
    }
}
