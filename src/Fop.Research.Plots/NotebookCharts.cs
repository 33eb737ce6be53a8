using Fop.Research.Plots.Figures;
using Microsoft.DotNet.Interactive.Formatting;
using GenericChart = Plotly.NET.GenericChart;
using Figure = Fop.Research.Plots.Figures.Figure;

namespace Fop.Research.Plots;

/// <summary>
/// Notebook display of figures and Plotly charts that works with no network: plotly.js is written into the first chart's
/// output only (then every later chart in the page finds it), instead of Plotly.NET.Interactive's CDN loader.
/// </summary>
public static class NotebookCharts
{
    static int libraryWritten;

    /// <summary>Registers the text/html formatters for <see cref="Figure"/> and <see cref="GenericChart"/> in this process.</summary>
    public static void Register()
    {
        Formatter.Register<Figure>((figure, writer) => writer.Write(HtmlRenderer.Fragment(figure, includeLibrary: FirstTime())), HtmlFormatter.MimeType);
        Formatter.Register<GenericChart>((chart, writer) =>
        {
            if (FirstTime()) writer.Write(HtmlRenderer.LibraryScript());
            writer.Write(GenericChart.toChartHTML(chart));
        }, HtmlFormatter.MimeType);
    }

    /// <summary>Makes the next chart include plotly.js again (for a new page, e.g. a re-executed notebook).</summary>
    public static void Reset() => Interlocked.Exchange(ref libraryWritten, 0);

    static bool FirstTime() => Interlocked.Exchange(ref libraryWritten, 1) == 0;
}
