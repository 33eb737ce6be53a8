using ScottPlot;

namespace Fop.Research.Plots;

/// <summary>One labelled curve: x and y values.</summary>
public sealed record Curve(string Label, double[] X, double[] Y);

/// <summary>PNG plots of runs: test accuracy against wall-clock time (the paper's Figs. 2-4) and time-to-target against batch size.</summary>
public static class RunPlots
{
    /// <summary>Reads (train_seconds, test_accuracy) from a run folder's metrics.csv.</summary>
    public static Curve AccuracyOverTime(string runDir, string label)
    {
        var rows = Training.EpochMetrics.Read(runDir);
        return new Curve(label, rows.Select(r => r.TrainSeconds).ToArray(), rows.Select(r => 100 * r.TestAccuracy).ToArray());
    }

    /// <summary>Writes a line plot of the curves, with an optional dotted horizontal target line, to <paramref name="pngPath"/>.</summary>
    public static void Lines(string pngPath, string title, string xLabel, string yLabel, IEnumerable<Curve> curves, double? target = null, bool logX = false, int width = 800, int height = 500)
    {
        var plot = new Plot();
        foreach (var c in curves)
        {
            var xs = logX ? c.X.Select(Math.Log10).ToArray() : c.X;
            var s = plot.Add.Scatter(xs, c.Y);
            s.LegendText = c.Label;
        }
        if (target is double y)
        {
            var line = plot.Add.HorizontalLine(y);
            line.LinePattern = LinePattern.Dotted;
            line.LegendText = $"target {y:g4}";
        }
        if (logX)
        {
            plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericAutomatic { LabelFormatter = v => Math.Pow(10, v).ToString("g4") };
        }
        plot.Title(title);
        plot.XLabel(xLabel);
        plot.YLabel(yLabel);
        plot.ShowLegend();
        Fop.Research.Io.AtomicFile.WriteVia(pngPath, tmp => plot.SavePng(tmp, width, height));
    }
}
