using Fop.Research.Io;
using ScottPlot;
using SkiaSharp;

namespace Fop.Research.Plots.Figures;

/// <summary>Renders figures as PNG with ScottPlot: units on axes, legends outside the data, log axes ticked at real values.</summary>
public static class PngRenderer
{
    /// <summary>Panel size in pixels.</summary>
    public static (int Width, int Height) PanelSize { get; set; } = (860, 430);

    /// <summary>Writes the figure (panels in a grid under one title) to <paramref name="path"/> atomically.</summary>
    public static void Save(Figure figure, string path)
    {
        var bytes = Encode(figure);
        AtomicFile.Write(path, stream => stream.Write(bytes));
    }

    /// <summary>The figure as PNG bytes (e.g. for a notebook output that static viewers can show).</summary>
    public static byte[] Encode(Figure figure)
    {
        var (w, h) = PanelSize;
        // A legend under its panel (long labels) adds its own height, so the data area keeps the usual size.
        h += figure.Panels.Select(p => LegendLabels(p).ToList()).Where(l => l.Any(x => x.Length > WideLabel)).Select(l => 22 * l.Count(x => x.Length > 0) + 30).DefaultIfEmpty(0).Max();
        int columns = Math.Max(1, Math.Min(figure.Columns, figure.Panels.Count));
        int rows = (figure.Panels.Count + columns - 1) / columns;
        const int header = 36;
        using var surface = SKSurface.Create(new SKImageInfo(columns * w, rows * h + header));
        surface.Canvas.Clear(SKColors.White);
        using (var font = new SKFont(SKTypeface.Default, 20))
        using (var paint = new SKPaint { Color = SKColors.Black, IsAntialias = true })
        {
            // A title wider than the figure is set smaller rather than cut at the edge.
            float room = columns * w - 24, width = font.MeasureText(figure.Title);
            if (width > room) font.Size = Math.Max(9, 20 * room / width);
            surface.Canvas.DrawText(figure.Title, 12, 26, font, paint);
        }
        for (int i = 0; i < figure.Panels.Count; i++)
        {
            var plot = Render(figure.Panels[i]);
            using var bitmap = SKBitmap.Decode(plot.GetImageBytes(w, h, ImageFormat.Png));
            surface.Canvas.DrawBitmap(bitmap, i % columns * w, header + i / columns * h);
        }
        using var image = surface.Snapshot();
        using var data = image.Encode(SKEncodedImageFormat.Png, 100);
        return data.ToArray();
    }

    /// <summary>One panel as a ScottPlot plot (a notebook can render or adjust it further).</summary>
    public static Plot Render(Panel panel)
    {
        var plot = new Plot();
        switch (panel)
        {
            case LinePanel p: Lines(plot, p); break;
            case FieldPanel p: Field(plot, p); break;
            case HeatmapPanel p: Heatmap(plot, p); break;
        }
        plot.Title(panel.Title);
        // A long panel title is set smaller: it is centred over the data area, which a legend or colour bar can make narrow.
        if (panel.Title.Length > 40) plot.Axes.Title.Label.FontSize = Math.Max(9f, plot.Axes.Title.Label.FontSize * 40f / panel.Title.Length);
        // A log axis says so in its label: its ticks alone (1, 10, 100) do not tell a reader the spacing is logarithmic.
        plot.XLabel(panel is LinePanel { LogX: true } ? $"{panel.XLabel} (log scale)" : panel.XLabel);
        plot.YLabel(panel is LinePanel { LogY: true } ? $"{panel.YLabel} (log scale)" : panel.YLabel);
        return plot;
    }

    static double[] Tx(double[] v, bool log) => log ? v.Select(x => x > 0 ? Math.Log10(x) : double.NaN).ToArray() : v;

    static void Lines(Plot plot, LinePanel p)
    {
        var palette = new ScottPlot.Palettes.Category10();
        int k = 0;
        foreach (var series in p.Series)
        {
            var s = series.Drawable(p.LogX, p.LogY);
            var color = palette.GetColor(series.PaletteIndex ?? k++);
            var xs = Tx(s.X, p.LogX);
            if (s.Lower is not null && s.Upper is not null)
            {
                var fill = plot.Add.FillY(xs, Tx(s.Lower, p.LogY), Tx(s.Upper, p.LogY));
                fill.FillColor = color.WithAlpha(0.2);
                fill.LineColor = color.WithAlpha(0);
            }
            var line = plot.Add.Scatter(xs, Tx(s.Y, p.LogY));
            line.Color = color;
            line.LegendText = s.Label;
            line.MarkerSize = s.Markers || s.X.Length == 1 ? 6 : 0;
            line.LineWidth = s.Thin ? 1.2f : 2;
            if (s.Dashed) line.LinePattern = LinePattern.Dashed;
            foreach (var (hx, hy) in series.Hollow)
            {
                var mk = plot.Add.Marker(p.LogX ? Math.Log10(hx) : hx, p.LogY ? Math.Log10(hy) : hy);
                mk.Shape = MarkerShape.OpenCircle;
                mk.Size = 9;
                mk.Color = color;
            }
        }
        if (p.Target is double t)
        {
            var target = plot.Add.HorizontalLine(p.LogY ? Math.Log10(t) : t);
            target.LinePattern = LinePattern.Dotted;
            target.Color = Colors.Black;
            target.LegendText = p.TargetLabel;
        }
        foreach (var (label, y) in p.References)
        {
            var r = plot.Add.HorizontalLine(p.LogY ? Math.Log10(y) : y);
            r.LinePattern = LinePattern.Dashed;
            r.Color = Colors.Gray;
            r.LegendText = label;
        }
        foreach (var m in p.Markers)
        {
            var mk = plot.Add.Marker(p.LogX ? Math.Log10(m.X) : m.X, p.LogY ? Math.Log10(m.Y) : m.Y);
            mk.Shape = m.Hollow ? MarkerShape.OpenCircle : MarkerShape.FilledCircle;
            mk.Size = 9;
            mk.Color = Colors.Black;
            var text = plot.Add.Text(m.Label, p.LogX ? Math.Log10(m.X) : m.X, p.LogY ? Math.Log10(m.Y) : m.Y);
            text.LabelFontSize = 11;
            text.LabelAlignment = Alignment.LowerLeft;
        }
        var xsAll = p.Series.SelectMany(s => s.X.Concat(s.Hollow.Select(h => h.X))).Concat(p.Markers.Select(m => m.X)).Where(v => v > 0 && double.IsFinite(v)).ToArray();
        if (p.LogX && p.XTicks is null && xsAll.Length > 0) plot.Axes.Bottom.TickGenerator = LogTicks(xsAll.Min(), xsAll.Max());
        else if (p.LogX || p.XTicks is not null) plot.Axes.Bottom.TickGenerator = Ticks(p.XTicks, p.LogX);
        if (p.LogX && p.XTicks is { Length: > 0 } xt)
        {
            // Room for the labels of points at the first and last batch size.
            double lo = Math.Log10(xt.Min()), hi = Math.Log10(xt.Max()), pad = Math.Max(0.1, (hi - lo) * 0.08);
            plot.Axes.SetLimitsX(lo - pad, hi + pad);
        }
        if (p.LogY)
        {
            var ys = p.Series.SelectMany(s => s.Y.Concat(s.Lower ?? []).Concat(s.Upper ?? [])).Concat(p.Markers.Select(m => m.Y))
                .Concat(p.References.Select(r => r.Y)).Concat(p.Target is double tv ? [tv] : []).Where(v => v > 0 && double.IsFinite(v)).ToArray();
            if (ys.Length > 0) plot.Axes.Left.TickGenerator = LogTicks(ys.Min(), ys.Max());
        }
        if (p.YRange is { } range) plot.Axes.SetLimitsY(p.LogY ? Math.Log10(range.Min) : range.Min, p.LogY ? Math.Log10(range.Max) : range.Max);
        if (p.Series.Any(s => s.Failures.Count > 0)) FailureStrip(plot, p, palette);
        if (p.Series.Count + p.References.Count + (p.Target is null ? 0 : 1) > 0)
            ShowLegendOutside(plot, p.Series.Select(x => x.Label).Concat(p.References.Select(r => r.Label)).Append(p.TargetLabel ?? ""));
    }

    /// <summary>
    /// A shaded strip under the data, labelled "failed" on the y axis, with one row per series that has failures: a cross per
    /// x where runs diverged, a hollow circle where they never reached the target, the count beside it when more than one.
    /// The y axis is ticked only over the data, so nothing in the strip reads as a value. Linear y axes only.
    /// </summary>
    static void FailureStrip(Plot plot, LinePanel p, ScottPlot.IPalette palette)
    {
        // Everything here is in plotted units: log10 of the values on a log axis.
        Func<double, double> plotted = p.LogY ? Math.Log10 : v => v;
        var values = p.Series.SelectMany(s => s.Y.Concat(s.Lower ?? []).Concat(s.Upper ?? [])).Concat(p.Target is double tv ? [tv] : [])
            .Where(v => double.IsFinite(v) && (!p.LogY || v > 0)).Select(plotted).ToList();
        double lo = p.YRange is { } yr ? plotted(yr.Min) : values.Count > 0 ? values.Min() : 0, hi = p.YRange is { } yr2 ? plotted(yr2.Max) : values.Count > 0 ? values.Max() : 1;
        if (!(hi > lo)) (lo, hi) = (lo - 0.5, hi + 0.5);
        double span = hi - lo;
        var rows = p.Series.Select((s, k) => (Series: s, Color: palette.GetColor(k))).Where(x => x.Series.Failures.Count > 0).ToList();
        double top = lo - 0.10 * span, height = Math.Max(0.14, 0.07 * rows.Count) * span, bottom = top - height;
        var strip = plot.Add.VerticalSpan(bottom, top);
        strip.FillColor = Colors.Gray.WithAlpha(0.15);
        strip.LineColor = Colors.Gray.WithAlpha(0.6);
        for (int r = 0; r < rows.Count; r++)
        {
            double y = top - (r + 0.5) / rows.Count * height;
            foreach (var f in rows[r].Series.Failures)
            {
                double x = p.LogX ? Math.Log10(f.X) : f.X;
                var mk = plot.Add.Marker(x, y);
                mk.Shape = f.Kind == FailureKind.Diverged ? MarkerShape.Eks : MarkerShape.OpenCircle;
                mk.Size = 10;
                mk.Color = rows[r].Color;
                if (f.Count > 1)
                {
                    var count = plot.Add.Text($"{f.Count}", x, y);
                    count.LabelFontSize = 12;
                    count.LabelFontColor = rows[r].Color;
                    count.LabelAlignment = Alignment.MiddleLeft;
                    count.OffsetX = 7;
                }
            }
        }
        ScottPlot.TickGenerators.NumericManual ticks;
        if (p.LogY) ticks = (ScottPlot.TickGenerators.NumericManual)LogTicks(Math.Pow(10, lo), Math.Pow(10, hi), above: top);
        else
        {
            ticks = new ScottPlot.TickGenerators.NumericManual();
            double raw = span / 5, magnitude = Math.Pow(10, Math.Floor(Math.Log10(raw)));
            double step = new[] { 1.0, 2.0, 5.0, 10.0 }.Select(m => m * magnitude).First(v => v >= raw);
            for (double v = Math.Ceiling(lo / step) * step; v <= hi + step * 1e-9; v += step) ticks.AddMajor(v, v.ToString("g4"));
        }
        ticks.AddMajor((top + bottom) / 2, "failed");
        plot.Axes.Left.TickGenerator = ticks;
        plot.Axes.SetLimitsY(bottom - 0.04 * span, hi + 0.06 * span);
        // Legend entries for the two marks, in black: which shape means what.
        foreach (var (kind, label) in new[] { (FailureKind.Diverged, "diverged or stalled"), (FailureKind.NotReached, "never reached") })
        {
            if (!rows.Any(x => x.Series.Failures.Any(f => f.Kind == kind))) continue;
            var key = plot.Add.Marker(double.NaN, double.NaN);
            key.Shape = kind == FailureKind.Diverged ? MarkerShape.Eks : MarkerShape.OpenCircle;
            key.Color = Colors.Black;
            key.LegendText = label;
        }
    }

    /// <summary>
    /// Ticks at 1, 2 and 5 times powers of ten (positions in log10 units), labelled with their values; a range so narrow
    /// that fewer than two of those fall inside the data gets evenly spaced round values instead.
    /// </summary>
    static ScottPlot.ITickGenerator LogTicks(double min, double max, double above = double.NegativeInfinity)
    {
        // Ticks at or below `above` (log10 units; a failure strip's top) are left out: the strip has a label of its own.
        var manual = new ScottPlot.TickGenerators.NumericManual();
        foreach (var (position, label) in LogTickPositions(min, max).Where(t => t.Position > above)) manual.AddMajor(position, label);
        return manual;
    }

    static IEnumerable<(double Position, string Label)> LogTickPositions(double min, double max)
    {
        int inside = Enumerable.Range((int)Math.Floor(Math.Log10(min)), (int)Math.Ceiling(Math.Log10(max)) - (int)Math.Floor(Math.Log10(min)) + 1)
            .SelectMany(k => new[] { 1.0, 2.0, 5.0 }.Select(m => m * Math.Pow(10, k))).Count(v => v >= min && v <= max);
        if (inside < 2)
        {
            // A single value or a sliver of a range still gets ticks a few percent apart.
            if (max - min < 0.02 * max) (min, max) = (min * 0.99, max * 1.01);
            double raw = (max - min) / 4, magnitude = Math.Pow(10, Math.Floor(Math.Log10(raw)));
            double step = new[] { 1.0, 2.0, 5.0, 10.0 }.Select(m => m * magnitude).First(v => v >= raw);
            // Enough digits that neighbouring ticks never print the same label (plain decimals where they fit).
            int digits = Math.Max(2, (int)Math.Ceiling(Math.Log10(max / step)) + 1);
            for (double v = Math.Floor(min / step) * step; v <= max + step / 2; v += step)
                if (v > 0) yield return (Math.Log10(v), step >= 1e-5 && v < 1e6 ? LogLabel(Math.Round(v / step) * step) : v.ToString($"g{digits}", System.Globalization.CultureInfo.InvariantCulture));
            yield break;
        }
        int lo = (int)Math.Floor(Math.Log10(min)), hi = (int)Math.Ceiling(Math.Log10(max));
        var steps = hi - lo > 4 ? new[] { 1.0 } : new[] { 1.0, 2.0, 5.0 };
        for (int k = lo; k <= hi; k++)
            foreach (var m in steps)
            {
                double v = m * Math.Pow(10, k);
                if (v >= min / 2 && v <= max * 2) yield return (Math.Log10(v), LogLabel(v));
            }
    }

    /// <summary>A log-axis tick as a plain number where it is short (1000, 0.002), else in exponent form (1e+06).</summary>
    static string LogLabel(double v) => v >= 1e-4 && v < 1e6 ? v.ToString("0.#####", System.Globalization.CultureInfo.InvariantCulture) : v.ToString("g3", System.Globalization.CultureInfo.InvariantCulture);

    static ScottPlot.ITickGenerator Ticks(double[]? ticks, bool log)
    {
        if (ticks is null)
            return new ScottPlot.TickGenerators.NumericAutomatic { LabelFormatter = v => (log ? Math.Pow(10, v) : v).ToString("g4") };
        var manual = new ScottPlot.TickGenerators.NumericManual();
        foreach (var t in ticks) manual.AddMajor(log ? Math.Log10(t) : t, t.ToString("g6"));
        return manual;
    }

    /// <summary>
    /// One legend outside the data: at the right while its labels are short, below the plot when they are long, so that a
    /// long legend never squeezes the data area (and never stands twice).
    /// </summary>
    /// <summary>Labels longer than this put the legend under the panel instead of beside it.</summary>
    const int WideLabel = 60;

    /// <summary>The legend labels a panel shows (empty ones are not drawn).</summary>
    static IEnumerable<string> LegendLabels(Panel panel) => panel switch
    {
        LinePanel p => p.Series.Select(x => x.Label).Concat(p.References.Select(r => r.Label)).Append(p.Target is null ? "" : p.TargetLabel ?? ""),
        FieldPanel p => p.Paths.Select(x => x.Label).Concat(p.Markers.Select(m => m.Label)),
        _ => [],
    };

    static void ShowLegendOutside(Plot plot, IEnumerable<string> labels)
    {
        bool wide = labels.Any(l => l.Length > WideLabel);
        plot.ShowLegend(wide ? Edge.Bottom : Edge.Right);
        if (wide) plot.Legend.Orientation = Orientation.Vertical;
    }

    static void Field(Plot plot, FieldPanel p)
    {
        int nx = p.X.Length, ny = p.Y.Length;
        var values = new double[ny, nx];
        // ScottPlot draws row 0 at the top; the y axis grows upwards.
        for (int j = 0; j < ny; j++)
            for (int i = 0; i < nx; i++)
                values[ny - 1 - j, i] = p.LogValues ? Math.Log10(Math.Max(1e-12, p.Z[j][i])) : p.Z[j][i];
        var heat = plot.Add.Heatmap(values);
        double dx = nx > 1 ? (p.X[^1] - p.X[0]) / (nx - 1) / 2 : 0.5, dy = ny > 1 ? (p.Y[^1] - p.Y[0]) / (ny - 1) / 2 : 0.5;
        heat.Position = new CoordinateRect(p.X[0] - dx, p.X[^1] + dx, p.Y[0] - dy, p.Y[^1] + dy);
        heat.Colormap = new ScottPlot.Colormaps.Viridis();
        var bar = plot.Add.ColorBar(heat);
        bar.Label = p.LogValues ? $"log10 {p.ColorLabel}" : p.ColorLabel;
        var coordinates = new Coordinates3d[ny, nx];
        for (int j = 0; j < ny; j++)
            for (int i = 0; i < nx; i++) coordinates[j, i] = new Coordinates3d(p.X[i], p.Y[j], values[ny - 1 - j, i]);
        var contours = plot.Add.ContourLines(coordinates);
        contours.LineColor = Colors.White.WithAlpha(0.6);
        var palette = new ScottPlot.Palettes.Category10();
        for (int k = 0; k < p.Paths.Count; k++)
        {
            var s = p.Paths[k].Drawable();
            var line = plot.Add.ScatterLine(s.X, s.Y, palette.GetColor((k + 1) % 10));
            line.LineWidth = 2.5f;
            line.MarkerSize = s.Markers ? 5 : 0;
            if (s.Dashed) line.LinePattern = LinePattern.Dashed;
            line.LegendText = s.Label;
        }
        // Labelled points go into the legend, each in its own colour: labels written next to points overlap when the
        // points are close (an SGD, a KFAC and a FOP step often land within a label's width of each other).
        var markerColors = new ScottPlot.Palettes.Category10();
        for (int k = 0; k < p.Markers.Count; k++)
        {
            var m = p.Markers[k];
            var mk = plot.Add.Marker(m.X, m.Y);
            mk.Shape = m.Hollow ? MarkerShape.OpenCircle : MarkerShape.FilledCircle;
            mk.Size = 11;
            mk.Color = markerColors.GetColor(k + 1);
            mk.LegendText = m.Label;
        }
        if (p.Paths.Count + p.Markers.Count > 0) ShowLegendOutside(plot, p.Paths.Select(x => x.Label).Concat(p.Markers.Select(m => m.Label)));
        plot.Axes.SetLimits(p.X[0] - dx, p.X[^1] + dx, p.Y[0] - dy, p.Y[^1] + dy);
    }

    static void Heatmap(Plot plot, HeatmapPanel p)
    {
        int nx = p.X.Length, ny = p.Rows.Length;
        var values = new double[ny, nx];
        for (int j = 0; j < ny; j++) for (int i = 0; i < nx; i++) values[j, i] = p.Z[j][i];
        var heat = plot.Add.Heatmap(values);
        double dx = nx > 1 ? (p.X[^1] - p.X[0]) / (nx - 1) / 2 : 0.5;
        heat.Position = new CoordinateRect(p.X[0] - dx, p.X[^1] + dx, -0.5, ny - 0.5);
        heat.Colormap = new ScottPlot.Colormaps.Viridis();
        var bar = plot.Add.ColorBar(heat);
        bar.Label = p.ColorLabel;
        var ticks = new ScottPlot.TickGenerators.NumericManual();
        for (int j = 0; j < ny; j++) ticks.AddMajor(ny - 1 - j, p.Rows[j]);
        plot.Axes.Left.TickGenerator = ticks;
        plot.Axes.SetLimits(p.X[0] - dx, p.X[^1] + dx, -0.5, ny - 0.5);
    }
}
