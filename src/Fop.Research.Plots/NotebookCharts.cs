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

    /// <summary>Rows of a DataFrame shown in a notebook before the table says how many more there are.</summary>
    public const int MaxTableRows = 60;

    /// <summary>Registers the text/html formatters for <see cref="Figure"/>, <see cref="GenericChart"/> and DataFrames in this process.</summary>
    public static void Register()
    {
        // A notebook registers once at its top: that is a new page, whose first chart must carry plotly.js again.
        Reset();
        // Microsoft.Data.Analysis.Interactive (the DataFrame formatter) is not served on our package feed, and without a
        // formatter a DataFrame displays as a list of its properties: a small table formatter of our own stands in.
        Formatter.Register<Microsoft.Data.Analysis.DataFrame>((df, writer) => writer.Write(TableHtml(df)), HtmlFormatter.MimeType);
        Formatter.Register<Figure>((figure, writer) => writer.Write(HtmlRenderer.Fragment(figure, includeLibrary: FirstTime())), HtmlFormatter.MimeType);
        Formatter.Register<GenericChart>((chart, writer) =>
        {
            if (FirstTime()) writer.Write(HtmlRenderer.LibraryScript());
            writer.Write(GenericChart.toChartHTML(chart));
        }, HtmlFormatter.MimeType);
    }

    /// <summary>Makes the next chart include plotly.js again (for a new page, e.g. a re-executed notebook).</summary>
    public static void Reset() => Interlocked.Exchange(ref libraryWritten, 0);

    /// <summary>A DataFrame as an HTML table: column names as the header, numbers to 5 significant digits, missing values blank, at most <see cref="MaxTableRows"/> rows.</summary>
    public static string TableHtml(Microsoft.Data.Analysis.DataFrame df)
    {
        static string Cell(object? v) => System.Net.WebUtility.HtmlEncode(Views.Tables.FormatCell(v));
        var sb = new System.Text.StringBuilder("<table class=\"fop-table\" style=\"border-collapse:collapse;font-size:0.9em\"><thead><tr>");
        foreach (var c in df.Columns) sb.Append("<th style=\"text-align:right;padding:2px 8px;border-bottom:1px solid #888\">").Append(System.Net.WebUtility.HtmlEncode(c.Name)).Append("</th>");
        sb.Append("</tr></thead><tbody>");
        long shown = Math.Min(df.Rows.Count, MaxTableRows);
        for (long r = 0; r < shown; r++)
        {
            sb.Append("<tr>");
            foreach (var c in df.Columns) sb.Append("<td style=\"text-align:right;padding:2px 8px\">").Append(Cell(c[r])).Append("</td>");
            sb.Append("</tr>");
        }
        sb.Append("</tbody></table>");
        if (df.Rows.Count > shown) sb.Append($"<p>{df.Rows.Count - shown} more rows of {df.Rows.Count} not shown.</p>");
        return sb.ToString();
    }

    static bool FirstTime() => Interlocked.Exchange(ref libraryWritten, 1) == 0;
}
