using Fop.Research.Plots.Figures;
using Fop.Research.Training;

namespace Fop.Research.Plots.Views;

/// <summary>The figures of a study-file results folder (results.csv, tuning.csv, runs/*/metrics.csv): accuracy by epoch with seed bands, and the tuning grids.</summary>
public static class VariantStudyViews
{
    /// <summary>Every figure the folder's files support (the tuning figure only for tuned studies).</summary>
    public static IReadOnlyList<Figure> All(string resultsDir)
    {
        var figures = new List<Figure>();
        if (File.Exists(Path.Combine(resultsDir, "results.csv")) && File.ReadLines(Path.Combine(resultsDir, "results.csv")).Skip(1).Any())
            figures.Add(SeedCurves(resultsDir));
        if (File.Exists(Path.Combine(resultsDir, "tuning.csv"))) figures.Add(Tuning(resultsDir));
        return figures;
    }

    /// <summary>
    /// Accuracy by epoch, one panel per base config, one line per variant: the mean over seeds with a band from the lowest
    /// to the highest seed. Validation accuracy where the runs have a split (what the study decides on), else test.
    /// </summary>
    public static Figure SeedCurves(string resultsDir, string name = "seed-curves")
    {
        var df = Tables.Load(Path.Combine(resultsDir, "results.csv"));
        var (config, variant, run) = (Tables.Strings(df, "config"), Tables.Strings(df, "variant"), Tables.Strings(df, "run"));
        var metrics = run.Distinct().ToDictionary(r => r, r => EpochMetrics.Read(Path.Combine(resultsDir, "runs", r)));
        var failed = Tables.Doubles(df, "diverged_or_stalled");
        bool val = metrics.Values.Any(m => m.Any(e => e.HasValidation));
        var panels = config.Distinct().Select(c =>
        {
            var series = Enumerable.Range(0, run.Length).Where(i => config[i] == c).GroupBy(i => variant[i]).Select(g =>
            {
                var curves = g.Select(i => metrics[run[i]]).ToList();
                int epochs = curves.Max(m => m.Count);
                var (x, y, lo, hi) = (new List<double>(), new List<double>(), new List<double>(), new List<double>());
                for (int e = 0; e < epochs; e++)
                {
                    var at = curves.Where(m => m.Count > e).Select(m => 100 * (val ? m[e].ValAccuracy : m[e].TestAccuracy)).Where(double.IsFinite).ToList();
                    if (at.Count == 0) continue;
                    x.Add(e + 1); y.Add(at.Average()); lo.Add(at.Min()); hi.Add(at.Max());
                }
                // Past the epoch where a run diverged the mean is over the survivors only: the label says how many there are.
                int stopped = g.Count(i => failed[i] == 1);
                return new Series($"{g.Key} ({curves.Count} seed{(curves.Count == 1 ? "" : "s")}{(stopped > 0 ? $", {stopped} diverged or stalled" : "")})", x.ToArray(), y.ToArray(),
                    curves.Count > 1 ? lo.ToArray() : null, curves.Count > 1 ? hi.ToArray() : null);
            }).ToList();
            double low = series.SelectMany(s => s.Lower ?? s.Y).Where(double.IsFinite).DefaultIfEmpty(0).Min();
            return (Panel)new LinePanel(c, "epoch", val ? "validation accuracy (%)" : "test accuracy (%)", series)
            {
                YRange = (Math.Max(0, Math.Floor(low / 5) * 5), 100),
            };
        }).ToList();
        return new Figure(name, $"{Folder(resultsDir)}: {(val ? "validation" : "test")} accuracy (mean; band: seed range)", panels,
            "Each line is one variant with its chosen settings; the band spans the seeds' range. A run that stopped early (diverged, stalled, target reached) ends its contribution there, so past that epoch the mean and band are over the runs still going; the legend counts the runs that diverged or stalled.",
            Columns: Math.Min(3, panels.Count));
    }

    /// <summary>The tuning grids: the validation metric against the tuned value (log axis), one panel per base config, one line per variant; hollow markers of the variant's colour on the floor are its runs that diverged or stalled.</summary>
    public static Figure Tuning(string resultsDir, string name = "tuning")
    {
        var path = Path.Combine(resultsDir, "tuning.csv");
        var header = File.ReadLines(path).First().Split(',');
        string key = header[3], metric = header[5];
        var df = Tables.Load(path, new Dictionary<string, Type> { [key] = typeof(double), [metric] = typeof(double) });
        var (config, variant, value, score) = (Tables.Strings(df, "config"), Tables.Strings(df, "variant"), Tables.Doubles(df, key), Tables.Doubles(df, metric));
        var panels = config.Distinct().Select(c =>
        {
            var rows = Enumerable.Range(0, config.Length).Where(i => config[i] == c).ToList();
            var finite = rows.Select(i => 100 * score[i]).Where(double.IsFinite).DefaultIfEmpty(10).ToList();
            double span = Math.Max(1, finite.Max() - finite.Min());
            double floor = finite.Min() - 0.08 * span;
            var series = rows.GroupBy(i => variant[i]).Select((g, k) =>
            {
                var ordered = g.Where(i => double.IsFinite(score[i])).OrderBy(i => value[i]).ToList();
                // Failed runs sit on the floor in the variant's colour, a little apart per variant so that equal values stay visible.
                return new Series(g.Key, ordered.Select(i => value[i]).ToArray(), ordered.Select(i => 100 * score[i]).ToArray(), Markers: true)
                {
                    Hollow = g.Where(i => !double.IsFinite(score[i])).Select(i => (value[i], floor - 0.04 * span * k)).ToList(),
                };
            }).ToList();
            return (Panel)new LinePanel(c, key, metric.Replace('_', ' ') + " (%)", series) { LogX = true };
        }).ToList();
        return new Figure(name, $"{Folder(resultsDir)}: tuning grids", panels,
            "Every tuning run of the study: the chosen value of each variant is its highest point; a grid whose best point is on its edge was not bracketed. Hollow circles below the lines: runs that diverged or stalled, in the variant's colour.",
            Columns: Math.Min(3, panels.Count));
    }

    static string Folder(string dir) => Path.GetFileName(Path.TrimEndingDirectorySeparator(dir));
}
