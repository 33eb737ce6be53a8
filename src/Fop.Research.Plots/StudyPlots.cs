using Fop.Research.Studies;
using ScottPlot;
using SkiaSharp;

namespace Fop.Research.Plots;

/// <summary>The figures of the scaling study: accuracy against time (one panel per batch) and time-to-target against batch size.</summary>
public static class StudyPlots
{
    /// <summary>Test accuracy against training seconds for the reported run of each optimizer, one panel per batch, dotted target line.</summary>
    public static void AccuracyPanels(string pngPath, ScalingResults results, Func<RunOutcome, Curve> curveOf, int columns = 3)
    {
        var batches = results.Options.Batches.Where(b => results.Best.Any(r => r.Summary.BatchSize == b)).ToList();
        if (batches.Count == 0 || double.IsNaN(results.Target)) return;
        var panels = batches.Select(b =>
        {
            var plot = LinePlot($"batch {b}", "training seconds", "test accuracy (%)",
                results.Best.Where(r => r.Summary.BatchSize == b).Select(curveOf), 100 * results.Target, logX: false);
            plot.Axes.SetLimitsY(Math.Max(50, 100 * results.Target - 15), 100 * results.Target + 5);
            return plot;
        }).ToList();
        SaveGrid(pngPath, panels, columns, 560, 380);
    }

    /// <summary>Mean seconds to target against batch size (log-log), one line per optimizer; batches where it was never reached are left out.</summary>
    public static void TimeToTarget(string pngPath, ScalingResults results)
    {
        var curves = results.Options.Optimizers.Select(opt =>
        {
            var points = results.Options.Batches.Select(b => (Batch: b, Cell: StudyReport.Cell(results, opt, b)))
                .Where(p => p.Cell.Seconds is not null).ToList();
            return new Curve(opt, points.Select(p => Math.Log10(p.Batch)).ToArray(), points.Select(p => Math.Log10(p.Cell.Seconds!.Value)).ToArray());
        }).Where(c => c.X.Length > 0).ToList();
        if (curves.Count == 0) return;
        var plot = LinePlot($"{results.Options.Name}: time to {results.Target:P1}", "batch size", "training seconds to target", curves, null, logX: false);
        var ticks = new ScottPlot.TickGenerators.NumericAutomatic { LabelFormatter = v => Math.Pow(10, v).ToString("g4") };
        plot.Axes.Bottom.TickGenerator = ticks;
        plot.Axes.Left.TickGenerator = new ScottPlot.TickGenerators.NumericAutomatic { LabelFormatter = v => Math.Pow(10, v).ToString("g3") };
        Fop.Research.Io.AtomicFile.WriteVia(pngPath, tmp => plot.SavePng(tmp, 800, 500));
    }

    static Plot LinePlot(string title, string xLabel, string yLabel, IEnumerable<Curve> curves, double? target, bool logX)
    {
        var plot = new Plot();
        foreach (var c in curves)
        {
            var s = plot.Add.Scatter(logX ? c.X.Select(Math.Log10).ToArray() : c.X, c.Y);
            s.LegendText = c.Label;
        }
        if (target is double y)
        {
            var line = plot.Add.HorizontalLine(y);
            line.LinePattern = LinePattern.Dotted;
            line.LegendText = $"target {y:g4}";
        }
        plot.Title(title);
        plot.XLabel(xLabel);
        plot.YLabel(yLabel);
        plot.ShowLegend();
        return plot;
    }

    /// <summary>Renders plots into one PNG, row by row.</summary>
    static void SaveGrid(string pngPath, IReadOnlyList<Plot> plots, int columns, int width, int height)
    {
        columns = Math.Max(1, Math.Min(columns, plots.Count));
        int rows = (plots.Count + columns - 1) / columns;
        using var surface = SKSurface.Create(new SKImageInfo(Math.Max(1, columns * width), Math.Max(1, rows * height)));
        surface.Canvas.Clear(SKColors.White);
        for (int i = 0; i < plots.Count; i++)
        {
            using var bitmap = SKBitmap.Decode(plots[i].GetImageBytes(width, height, ImageFormat.Png));
            surface.Canvas.DrawBitmap(bitmap, i % columns * width, i / columns * height);
        }
        using var image = surface.Snapshot();
        using var data = image.Encode(SKEncodedImageFormat.Png, 100);
        Fop.Research.Io.AtomicFile.Write(pngPath, data.SaveTo);
    }
}
