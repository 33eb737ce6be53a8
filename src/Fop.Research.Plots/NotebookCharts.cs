using Fop.Research.Plots.Figures;
using Microsoft.DotNet.Interactive.Formatting;
using Figure = Fop.Research.Plots.Figures.Figure;

namespace Fop.Research.Plots;

/// <summary>
/// Notebook display of figures and tables that renders wherever a notebook is shown — Jupyter, VS Code, nbconvert's HTML,
/// GitHub — with no network and no script: a <see cref="Figure"/> displays as a PNG (the same renderer as the command line's
/// PNGs), a DataFrame as a plain HTML table. Nothing here loads Plotly.NET's F# types, which the .NET Interactive kernel
/// cannot load beside its own older FSharp.Core; interactive HTML charts are the files <see cref="Figure.Save"/> writes.
/// </summary>
public static class NotebookCharts
{
    /// <summary>Rows of a DataFrame shown in a notebook before the table says how many more there are.</summary>
    public const int MaxTableRows = 60;

    /// <summary>Registers the image/png formatter for <see cref="Figure"/> and the text/html formatter for DataFrames in this process.</summary>
    public static void Register()
    {
        Formatter.Register<Figure>((figure, writer) => writer.Write(Convert.ToBase64String(PngRenderer.Encode(figure))), PngMimeType);
        Formatter.SetPreferredMimeTypesFor(typeof(Figure), PngMimeType);
        // Microsoft.Data.Analysis.Interactive's formatter pages the table with script; a plain table shows in any viewer.
        Formatter.Register<Microsoft.Data.Analysis.DataFrame>((df, writer) => writer.Write(TableHtml(df)), HtmlFormatter.MimeType);
        Formatter.SetPreferredMimeTypesFor(typeof(Microsoft.Data.Analysis.DataFrame), HtmlFormatter.MimeType);
    }

    /// <summary>The MIME type figures display as.</summary>
    public const string PngMimeType = "image/png";

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
}
