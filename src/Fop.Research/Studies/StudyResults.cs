using System.Globalization;
using Fop.Research.Io;
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
        return CsvTable.Read(csv).Select(cells =>
        {
            var run = cells.Cell("run", csv);
            var runDir = Path.Combine(dir, "runs", run);
            var summary = Path.Combine(runDir, "summary.json");
            if (!File.Exists(summary)) throw new FileNotFoundException($"{csv}: run '{run}' has no record ({summary}).", summary);
            return new StudyRun(cells.Cell("config", csv), cells.Cell("variant", csv), long.Parse(cells.Cell("seed", csv), CultureInfo.InvariantCulture), RunSummary.Read(summary), runDir);
        }).ToList();
    }
}
