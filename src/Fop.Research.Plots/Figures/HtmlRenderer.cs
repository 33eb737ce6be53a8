using System.Net;
using System.Text;
using Fop.Research.Io;
using Microsoft.FSharp.Core;
using Plotly.NET;
using Plotly.NET.CSharp;
using Plotly.NET.LayoutObjects;
using Chart = Plotly.NET.CSharp.Chart;
using FChart = Plotly.NET.Chart;

namespace Fop.Research.Plots.Figures;

/// <summary>
/// Renders figures as interactive Plotly charts that work offline: a saved page embeds plotly.js once (from the
/// resource inside Plotly.NET.dll) followed by each panel's chart; a notebook gets the same as an HTML fragment.
/// </summary>
public static class HtmlRenderer
{
    static readonly Lazy<string> Library = new(() =>
    {
        var assembly = typeof(GenericChart).Assembly;
        var name = assembly.GetManifestResourceNames().Single(r => r.StartsWith("Plotly.NET.plotly-", StringComparison.Ordinal) && r.EndsWith(".min.js", StringComparison.Ordinal));
        using var stream = assembly.GetManifestResourceStream(name)!;
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    });

    /// <summary>A script element holding plotly.js, hidden from an AMD loader (classic Jupyter defines one) so that it always sets window.Plotly.</summary>
    public static string LibraryScript() => "<script type=\"text/javascript\">(function(define, module, exports){\n" + Library.Value + "\n})();</script>\n";

    /// <summary>Writes a self-contained page: title, caption, plotly.js once, then every panel.</summary>
    public static void Save(Figure figure, string path) => AtomicFile.WriteAllText(path, Page(figure));

    /// <summary>The page <see cref="Save"/> writes.</summary>
    public static string Page(Figure figure)
    {
        var html = new StringBuilder();
        html.Append("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>").Append(WebUtility.HtmlEncode(figure.Title)).Append("</title></head>\n<body style=\"font-family:sans-serif\">\n");
        html.Append(LibraryScript());
        html.Append(Fragment(figure, includeLibrary: false));
        html.Append("</body></html>\n");
        return html.ToString();
    }

    /// <summary>The figure as HTML for a notebook cell: heading, caption and one chart per panel (with plotly.js when asked).</summary>
    public static string Fragment(Figure figure, bool includeLibrary)
    {
        var html = new StringBuilder();
        if (includeLibrary) html.Append(LibraryScript());
        html.Append("<h3>").Append(WebUtility.HtmlEncode(figure.Title)).Append("</h3>\n");
        if (figure.Caption.Length > 0) html.Append("<p>").Append(WebUtility.HtmlEncode(figure.Caption)).Append("</p>\n");
        foreach (var chart in figure.Panels.SelectMany(Charts)) html.Append(GenericChart.toChartHTML(chart)).Append('\n');
        return html.ToString();
    }

    /// <summary>The Plotly charts of one panel (a field panel with <see cref="FieldPanel.Surface"/> gives a contour and a 3-D surface).</summary>
    public static IEnumerable<GenericChart> Charts(Panel panel)
    {
        switch (panel)
        {
            case LinePanel p: yield return Lines(p); break;
            case FieldPanel p:
                yield return Contour(p);
                if (p.Surface) yield return Surface(p);
                break;
            case HeatmapPanel p: yield return Heatmap(p); break;
        }
    }

    static readonly string[] Palette = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];

    static string Rgba(string hex, double alpha) =>
        $"rgba({Convert.ToInt32(hex[1..3], 16)},{Convert.ToInt32(hex[3..5], 16)},{Convert.ToInt32(hex[5..7], 16)},{alpha.ToString(System.Globalization.CultureInfo.InvariantCulture)})";

    static GenericChart Lines(LinePanel p)
    {
        var traces = new List<GenericChart>();
        int k = 0;
        foreach (var series in p.Series)
        {
            var s = series.Drawable(p.LogX, p.LogY);
            var color = Palette[(series.PaletteIndex ?? k++) % Palette.Length];
            if (s.Lower is not null && s.Upper is not null)
            {
                traces.Add(Chart.Line<double, double, string>(s.X, s.Lower, Name: s.Label + " lower", ShowLegend: false, LineColor: Color.fromString(Rgba(color, 0))));
                traces.Add(Chart.Line<double, double, string>(s.X, s.Upper, Name: s.Label + " band", ShowLegend: false, LineColor: Color.fromString(Rgba(color, 0)),
                    Fill: StyleParam.Fill.ToNext_y, FillColor: Color.fromString(Rgba(color, 0.2))));
            }
            traces.Add(Chart.Line<double, double, string>(s.X, s.Y, Name: s.Label, ShowLegend: s.Label.Length > 0, ShowMarkers: s.Markers || s.X.Length == 1, LineColor: Color.fromHex(color),
                LineWidth: s.Thin ? 1.2 : 2, LineDash: s.Dashed ? StyleParam.DrawingStyle.Dash : StyleParam.DrawingStyle.Solid));
            if (series.Hollow.Count > 0)
                traces.Add(Chart.Point<double, double, string>(series.Hollow.Select(h => h.X), series.Hollow.Select(h => h.Y), Name: s.Label + " (failed)",
                    MarkerColor: Color.fromHex(color), MarkerSymbol: StyleParam.MarkerSymbol.NewModified(StyleParam.MarkerSymbol.Circle, StyleParam.SymbolStyle.Open)));
        }
        var xs = p.Series.SelectMany(s => s.X.Concat(s.Hollow.Select(h => h.X))).Concat(p.Markers.Select(m => m.X)).Where(double.IsFinite).DefaultIfEmpty(0).ToArray();
        double x0 = xs.Min(), x1 = xs.Max();
        if (p.Target is double t)
            traces.Add(Chart.Line<double, double, string>(new[] { x0, x1 }, new[] { t, t }, Name: p.TargetLabel, LineColor: Color.fromHex("#000000"), LineDash: StyleParam.DrawingStyle.Dot));
        foreach (var (label, y) in p.References)
            traces.Add(Chart.Line<double, double, string>(new[] { x0, x1 }, new[] { y, y }, Name: label, LineColor: Color.fromHex("#7f7f7f"), LineDash: StyleParam.DrawingStyle.Dash));
        if (p.Markers.Count > 0)
            traces.Add(Chart.Scatter<double, double, string>(p.Markers.Select(m => m.X), p.Markers.Select(m => m.Y), StyleParam.Mode.Markers_Text, Name: "points",
                MultiText: p.Markers.Select(m => m.Label).ToArray(), TextPosition: StyleParam.TextPosition.TopCenter, MarkerColor: Color.fromHex("#000000")));
        var chart = Chart.Combine(traces)
            .WithXAxisStyle<double, double, string>(TitleText: p.LogX ? $"{p.XLabel} (log scale)" : p.XLabel, AxisType: p.LogX ? StyleParam.AxisType.Log : StyleParam.AxisType.Linear)
            .WithYAxisStyle<double, double, string>(TitleText: p.LogY ? $"{p.YLabel} (log scale)" : p.YLabel, AxisType: p.LogY ? StyleParam.AxisType.Log : StyleParam.AxisType.Linear)
            .WithSize(820, 460);
        if (p.XTicks is { } ticks)
        {
            var axis = new LinearAxis();
            axis.SetProperty("tickvals", ticks);
            axis.SetProperty("ticktext", ticks.Select(v => v.ToString("g6")).ToArray());
            chart = FChart.withXAxis(axis, null).Invoke(chart);
        }
        if (p.YRange is { } range)
        {
            var axis = new LinearAxis();
            axis.SetProperty("range", p.LogY ? new[] { Math.Log10(range.Min), Math.Log10(range.Max) } : new[] { range.Min, range.Max });
            chart = FChart.withYAxis(axis, null).Invoke(chart);
        }
        return FChart.withTitle(p.Title, null).Invoke(chart);
    }

    static ColorBar Bar(string label)
    {
        var title = new Title();
        title.SetProperty("text", label);
        var bar = new ColorBar();
        bar.SetProperty("title", title);
        return bar;
    }

    static double[][] Values(FieldPanel p) => p.LogValues ? p.Z.Select(r => r.Select(v => Math.Log10(Math.Max(1e-12, v))).ToArray()).ToArray() : p.Z;

    static GenericChart Contour(FieldPanel p)
    {
        var traces = new List<GenericChart>
        {
            Chart.Contour<double, double, double, string>(zData: Values(p), X: p.X, Y: p.Y, ColorBar: Bar(p.LogValues ? $"log10 {p.ColorLabel}" : p.ColorLabel),
                ColorScale: StyleParam.Colorscale.Viridis, ShowContoursLabels: true),
        };
        int k = 1;
        foreach (var path in p.Paths.Select(x => x.Drawable()))
            traces.Add(Chart.Line<double, double, string>(path.X, path.Y, Name: path.Label, ShowMarkers: path.Markers, LineColor: Color.fromHex(Palette[k++ % Palette.Length]),
                LineDash: path.Dashed ? StyleParam.DrawingStyle.Dash : StyleParam.DrawingStyle.Solid));
        if (p.Markers.Count > 0)
            traces.Add(Chart.Scatter<double, double, string>(p.Markers.Select(m => m.X), p.Markers.Select(m => m.Y), StyleParam.Mode.Markers_Text, Name: "steps",
                MultiText: p.Markers.Select(m => m.Label).ToArray(), TextPosition: StyleParam.TextPosition.TopCenter, MarkerColor: Color.fromHex("#d62728")));
        var chart = Chart.Combine(traces)
            .WithXAxisStyle<double, double, string>(TitleText: p.XLabel)
            .WithYAxisStyle<double, double, string>(TitleText: p.YLabel)
            .WithSize(720, 600);
        return FChart.withTitle(p.Title, null).Invoke(chart);
    }

    static GenericChart Surface(FieldPanel p)
    {
        static LinearAxis Axis(string text) { var t = new Title(); t.SetProperty("text", text); var a = new LinearAxis(); a.SetProperty("title", t); return a; }
        var scene = new Scene();
        scene.SetProperty("xaxis", Axis(p.XLabel));
        scene.SetProperty("yaxis", Axis(p.YLabel));
        scene.SetProperty("zaxis", Axis(p.LogValues ? $"log10 {p.ColorLabel}" : p.ColorLabel));
        var chart = Chart.Surface<double, double, double, string>(zData: Values(p), X: p.X, Y: p.Y, ColorScale: StyleParam.Colorscale.Viridis).WithSize(720, 600);
        chart = FChart.withScene(scene, null).Invoke(chart);
        return FChart.withTitle(p.Title + " (3-D)", null).Invoke(chart);
    }

    static GenericChart Heatmap(HeatmapPanel p)
    {
        var chart = Chart.Heatmap<double, double, string, string>(zData: p.Z, X: p.X, Y: p.Rows, ColorBar: Bar(p.ColorLabel), ColorScale: StyleParam.Colorscale.Viridis)
            .WithXAxisStyle<double, double, string>(TitleText: p.XLabel)
            .WithYAxisStyle<double, double, string>(TitleText: p.YLabel)
            .WithSize(820, Math.Max(360, 40 + 22 * p.Rows.Length));
        return FChart.withTitle(p.Title, null).Invoke(chart);
    }
}
