using System.Text;

namespace Fop.Research.Studies;

/// <summary>The pieces every generated markdown report (claims, curves) is made of: a titled section with its explanation, and table headers.</summary>
internal static class MarkdownReport
{
    /// <summary>A section's heading, its explanation and its table's header.</summary>
    public static void Section(StringBuilder sb, string title, string intro, params string[] columns)
    {
        sb.AppendLine();
        sb.AppendLine($"## {title}");
        sb.AppendLine();
        sb.AppendLine(intro);
        Header(sb, columns);
    }

    /// <summary>A blank line and a markdown table header.</summary>
    public static void Header(StringBuilder sb, params string[] columns)
    {
        sb.AppendLine();
        sb.AppendLine("| " + string.Join(" | ", columns) + " |");
        sb.AppendLine("|" + string.Concat(columns.Select(_ => "---|")));
    }
}
