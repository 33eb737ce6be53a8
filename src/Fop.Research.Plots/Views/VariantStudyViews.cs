using Fop.Research.Io;
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
    /// to the highest seed. Validation accuracy where the runs have a split (what the study decides on), else test; with
    /// <paramref name="testError"/>, top-1 error on the test set.
    /// </summary>
    public static Figure SeedCurves(string resultsDir, string name = "seed-curves", bool testError = false)
    {
        var df = CsvColumns.ReadTable(Path.Combine(resultsDir, "results.csv"));
        var (config, variant, run) = (df.Strings("config"), df.Strings("variant"), df.Strings("run"));
        var metrics = run.Distinct().ToDictionary(r => r, r => EpochMetrics.Read(Path.Combine(resultsDir, "runs", r)));
        var failed = df.Doubles("diverged_or_stalled");
        bool val = !testError && metrics.Values.Any(m => m.Any(e => e.HasValidation));
        // With testError the curves are top-1 error on the test set (the long-tailed claim's measure), not accuracy.
        Func<EpochMetrics, double> value = testError ? m => 100 * (1 - m.TestAccuracy) : val ? m => 100 * m.ValAccuracy : m => 100 * m.TestAccuracy;
        string measure = testError ? "test error" : val ? "validation accuracy" : "test accuracy";
        var panels = config.Distinct().Select(c =>
        {
            var series = Enumerable.Range(0, run.Length).Where(i => config[i] == c).GroupBy(i => variant[i]).SelectMany((g, colour) =>
            {
                if (g.Any(i => failed[i] == 1)) return SeedsApart(g.Select(i => (metrics[run[i]], failed[i] == 1)).ToList(), g.Key, colour, value);
                var curves = g.Select(i => metrics[run[i]]).ToList();
                int epochs = curves.Max(m => m.Count);
                var (x, y, lo, hi) = (new List<double>(), new List<double>(), new List<double>(), new List<double>());
                for (int e = 0; e < epochs; e++)
                {
                    var at = curves.Where(m => m.Count > e).Select(m => value(m[e])).Where(double.IsFinite).ToList();
                    if (at.Count == 0) continue;
                    x.Add(e + 1); y.Add(at.Average()); lo.Add(at.Min()); hi.Add(at.Max());
                }
                return [new Series($"{g.Key} (mean of {curves.Count} seed{(curves.Count == 1 ? "" : "s")})", x.ToArray(), y.ToArray(),
                    curves.Count > 1 ? lo.ToArray() : null, curves.Count > 1 ? hi.ToArray() : null) { PaletteIndex = colour }];
            }).ToList();
            double low = series.SelectMany(s => s.Lower ?? s.Y).Where(double.IsFinite).DefaultIfEmpty(0).Min();
            double high = series.SelectMany(s => s.Upper ?? s.Y).Where(double.IsFinite).DefaultIfEmpty(100).Max();
            return (Panel)new LinePanel(c, "epoch", $"{measure} (%)", series)
            {
                YRange = testError ? (Math.Max(0, Math.Floor(low / 5) * 5), Math.Min(100, Math.Ceiling(high / 5) * 5)) : (Math.Max(0, Math.Floor(low / 5) * 5), 100),
            };
        }).ToList();
        return new Figure(name, $"{Folder(resultsDir)}: {measure} (mean; band: seed range)", panels,
            "Each thick line is one variant with its chosen settings, the mean over its seeds, and the band spans the seeds' range. A variant with a seed that diverged or stalled is drawn seed by seed instead, in its colour: completed seeds solid, failed ones dashed and ending at a circle, so that no mean over the survivors can read as a recovery.",
            Columns: Math.Min(3, panels.Count));
    }

    /// <summary>A variant's seeds one by one: completed solid, diverged or stalled dashed with a circle where they stopped; one legend entry each kind.</summary>
    static IEnumerable<Series> SeedsApart(IReadOnlyList<(IReadOnlyList<EpochMetrics> Curve, bool Failed)> seeds, string variant, int colour, Func<EpochMetrics, double> value)
    {
        int completed = seeds.Count(s => !s.Failed), failures = seeds.Count - completed;
        bool firstCompleted = true, firstFailed = true;
        foreach (var (curve, stopped) in seeds)
        {
            var points = curve.Select(m => (X: (double)m.Epoch, Y: value(m))).Where(p => double.IsFinite(p.Y)).ToList();
            string label = "";
            if (!stopped && firstCompleted) { label = $"{variant}: {completed} seed{(completed == 1 ? "" : "s")} completed"; firstCompleted = false; }
            if (stopped && firstFailed) { label = $"{variant}: {failures} seed{(failures == 1 ? "" : "s")} diverged or stalled (dashed, o = stopped)"; firstFailed = false; }
            yield return new Series(label, points.Select(p => p.X).ToArray(), points.Select(p => p.Y).ToArray(), Dashed: stopped)
            {
                PaletteIndex = colour, Thin = true,
                Hollow = stopped && points.Count > 0 ? [points[^1]] : [],
            };
        }
    }

    /// <summary>The tuning grids: the validation metric against the tuned value (log axis), one panel per base config, one line per variant; hollow markers of the variant's colour on the floor are its runs that diverged or stalled.</summary>
    public static Figure Tuning(string resultsDir, string name = "tuning")
    {
        var path = Path.Combine(resultsDir, "tuning.csv");
        var df = CsvColumns.ReadTable(path);
        string key = df.Names[3], metric = df.Names[5];
        var (config, variant, value, score) = (df.Strings("config"), df.Strings("variant"), df.Doubles(key), df.Doubles(metric));
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
            bool anyFailed = series.Any(x => x.Hollow.Count > 0);
            return (Panel)new LinePanel(c, key, metric.Replace('_', ' ') + " (%)", series)
            {
                LogX = true,
                // The strip under this line holds failed runs at a place, not a value: the line and its legend entry say so.
                References = anyFailed ? [("below: runs that diverged or stalled (o, no value)", floor + 0.04 * span)] : [],
            };
        }).ToList();
        return new Figure(name, $"{Folder(resultsDir)}: tuning grids", panels,
            "Every tuning run of the study: the chosen value of each variant is its highest point; a grid whose best point is on its edge was not bracketed. Hollow circles in the strip under the grey dashed line are runs that diverged or stalled, in the variant's colour: their height is a place, not a measurement.",
            Columns: Math.Min(3, panels.Count));
    }

    static string Folder(string dir) => Path.GetFileName(Path.TrimEndingDirectorySeparator(dir));
}
