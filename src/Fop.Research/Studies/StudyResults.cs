using System.Globalization;
using Fop.Research.Training;

namespace Fop.Research.Studies;

/// <summary>
/// A study's committed results read back: the seed runs listed in results.csv, each with the summary.json and metrics.csv of its
/// record under runs/, so reports can be made from a fresh checkout without the training folders.
/// </summary>
public static class StudyResults
{
    /// <summary>The runs of the results folder <paramref name="dir"/> (empty when the study has no results yet); a listed run without its record is an error naming it.</summary>
    public static IReadOnlyList<StudyRun> Load(string dir)
    {
        var csv = Path.Combine(dir, "results.csv");
        if (!File.Exists(csv)) return [];
        var lines = File.ReadAllLines(csv);
        if (lines.Length == 0) return [];
        var header = SplitCsv(lines[0]);
        int Column(string name) => header.IndexOf(name) is int i and >= 0 ? i : throw new InvalidDataException($"{csv}: no '{name}' column.");
        int config = Column("config"), variant = Column("variant"), seed = Column("seed"), run = Column("run");
        return lines.Skip(1).Where(l => l.Length > 0).Select(line =>
        {
            var cells = SplitCsv(line);
            var runDir = Path.Combine(dir, "runs", cells[run]);
            var summary = Path.Combine(runDir, "summary.json");
            if (!File.Exists(summary)) throw new FileNotFoundException($"{csv}: run '{cells[run]}' has no record ({summary}).", summary);
            return new StudyRun(cells[config], cells[variant], long.Parse(cells[seed], CultureInfo.InvariantCulture), RunSummary.Read(summary), runDir);
        }).ToList();
    }

    /// <summary>One CSV line's cells (double-quoted cells may hold commas and doubled quotes).</summary>
    public static List<string> SplitCsv(string line)
    {
        var cells = new List<string>();
        var cell = new System.Text.StringBuilder();
        bool quoted = false;
        for (int i = 0; i < line.Length; i++)
        {
            char c = line[i];
            if (quoted)
            {
                if (c == '"' && i + 1 < line.Length && line[i + 1] == '"') { cell.Append('"'); i++; }
                else if (c == '"') quoted = false;
                else cell.Append(c);
            }
            else if (c == '"') quoted = true;
            else if (c == ',') { cells.Add(cell.ToString()); cell.Clear(); }
            else cell.Append(c);
        }
        cells.Add(cell.ToString());
        return cells;
    }
}
