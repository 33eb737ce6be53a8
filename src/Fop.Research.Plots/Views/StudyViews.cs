using System.Globalization;
using Fop.Research.Plots.Figures;

namespace Fop.Research.Plots.Views;

/// <summary>One run of a study as results.csv records it.</summary>
public sealed record StudyRun(string Stage, string Run, string Model, string Optimizer, int Batch, double Lr, long Seed, string Note, double? SecondsToTarget,
    double? EpochsToTarget, double BestAccuracy, double FinalAccuracy, bool Failed)
{
    /// <summary>The panel a run belongs to: model and batch, and the imbalance factor for long-tailed runs.</summary>
    public string Panel => $"{Model}, batch {Batch}" + (Note.StartsWith("imbalance", StringComparison.Ordinal) ? $", {Note.Replace("imbalance", "IF")}" : "");
    /// <summary>The configuration a run is a seed of: learning rate and the settings in its note (without the sweep's x0.5 / x2 tag).</summary>
    public string Configuration => $"{Optimizer} lr {Lr.ToString("g4", CultureInfo.InvariantCulture)} {System.Text.RegularExpressions.Regex.Replace(Note, @"\s*x[0-9.]+$", "")}".Trim();
}

/// <summary>The figures of a study's results folder (results.csv, curves.csv): accuracy against time with seed bands, time to target against batch.</summary>
public static class StudyViews
{
    /// <summary>Reads results.csv.</summary>
    public static IReadOnlyList<StudyRun> Runs(string resultsDir)
    {
        var df = Tables.Results(Path.Combine(resultsDir, "results.csv"));
        string[] S(string c) => Tables.Strings(df, c);
        double[] D(string c) => Tables.Doubles(df, c);
        var (stage, run, model, opt, note) = (S("stage"), S("run"), S("model"), S("optimizer"), S("note"));
        var (batch, lr, seed, secs, epochs, best, final) = (D("batch"), D("lr"), D("seed"), D("seconds_to_target"), D("epochs_to_target"), D("best_accuracy"), D("final_accuracy"));
        var failed = df.Columns.IndexOf("diverged_or_stalled") >= 0 ? D("diverged_or_stalled") : D("diverged");
        return Enumerable.Range(0, run.Length).Select(i => new StudyRun(stage[i], run[i], model[i], opt[i], (int)batch[i], lr[i], (long)seed[i], note[i],
            double.IsNaN(secs[i]) ? null : secs[i], double.IsNaN(epochs[i]) ? null : epochs[i], best[i], final[i], failed[i] == 1)).ToList();
    }

    /// <summary>The target accuracy (0-1) from table.md's first line ("... to 89.49 % test accuracy"), or null.</summary>
    public static double? TargetFromTable(string resultsDir)
    {
        var table = Path.Combine(resultsDir, "table.md");
        if (!File.Exists(table)) return null;
        var m = System.Text.RegularExpressions.Regex.Match(File.ReadLines(table).FirstOrDefault() ?? "", @"to ([0-9.]+) ?% test accuracy");
        return m.Success ? double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture) / 100 : null;
    }

    /// <summary>
    /// The configuration reported for each (panel, optimizer): among runs outside the tuning stage, the one whose seeds
    /// reached the target most often, then fastest; without a target, the best mean final accuracy.
    /// </summary>
    public static IReadOnlyList<(string Panel, string Optimizer, string Configuration, IReadOnlyList<StudyRun> Seeds)> Reported(IReadOnlyList<StudyRun> runs, double? target)
    {
        return runs.Where(r => r.Stage != "tune").GroupBy(r => (r.Panel, r.Optimizer)).Select(g =>
        {
            var best = g.GroupBy(r => r.Configuration)
                .OrderByDescending(c => c.Count(r => r.SecondsToTarget is not null))
                .ThenBy(c => c.Where(r => r.SecondsToTarget is not null).Select(r => r.SecondsToTarget!.Value).DefaultIfEmpty(double.MaxValue).Average())
                .ThenByDescending(c => c.Average(r => target is null ? r.FinalAccuracy : r.BestAccuracy))
                .First();
            return (g.Key.Panel, g.Key.Optimizer, best.Key, (IReadOnlyList<StudyRun>)best.ToList());
        }).ToList();
    }

    /// <summary>Test accuracy against training seconds, one panel per model and batch, mean over seeds with a ±1 std band and a dotted target line; the y axis shows every run, the failures included.</summary>
    public static Figure AccuracyOverTime(string resultsDir, double? target = null, string name = "accuracy-vs-time")
    {
        target ??= TargetFromTable(resultsDir);
        var runs = Runs(resultsDir);
        var curves = Tables.Curves(Path.Combine(resultsDir, "curves.csv"));
        var (run, epoch, secs, acc) = (Tables.Strings(curves, "run"), Tables.Doubles(curves, "epoch"), Tables.Doubles(curves, "train_seconds"), Tables.Doubles(curves, "test_accuracy"));
        var byRun = Enumerable.Range(0, run.Length).GroupBy(i => run[i]).ToDictionary(g => g.Key, g => g.OrderBy(i => epoch[i]).Select(i => (Epoch: (int)epoch[i], Seconds: secs[i], Accuracy: 100 * acc[i])).ToList());
        var reported = Reported(runs, target);
        double low = 100 * acc.Where(double.IsFinite).DefaultIfEmpty(0).Min();
        var panels = reported.GroupBy(r => r.Panel).OrderBy(g => PanelOrder(g.Key)).Select(g =>
        {
            var series = g.OrderBy(r => OptimizerOrder(r.Optimizer)).Select(r =>
            {
                var seedCurves = r.Seeds.Where(s => byRun.ContainsKey(s.Run)).Select(s => byRun[s.Run]).ToList();
                int epochs = seedCurves.Count == 0 ? 0 : seedCurves.Max(c => c.Count);
                var x = new List<double>(); var y = new List<double>(); var lo = new List<double>(); var hi = new List<double>();
                for (int e = 0; e < epochs; e++)
                {
                    var at = seedCurves.Where(c => c.Count > e).Select(c => c[e]).ToList();
                    double mean = at.Average(p => p.Accuracy), sd = at.Count > 1 ? Math.Sqrt(at.Sum(p => (p.Accuracy - mean) * (p.Accuracy - mean)) / (at.Count - 1)) : 0;
                    x.Add(at.Average(p => p.Seconds)); y.Add(mean); lo.Add(mean - sd); hi.Add(mean + sd);
                }
                return new Series($"{r.Configuration} ({seedCurves.Count} seed{(seedCurves.Count == 1 ? "" : "s")})", x.ToArray(), y.ToArray(),
                    seedCurves.Count > 1 ? lo.ToArray() : null, seedCurves.Count > 1 ? hi.ToArray() : null);
            }).ToList();
            return (Panel)new LinePanel(g.Key, "training seconds", "test accuracy (%)", series)
            {
                Target = target * 100, TargetLabel = target is double t ? $"target {100 * t:F2}%" : "target", YRange = (Math.Max(0, Math.Floor(low / 5) * 5), 100),
            };
        }).ToList();
        return new Figure(name, $"{Path.GetFileName(Path.TrimEndingDirectorySeparator(resultsDir))}: test accuracy against training time (mean ± std over seeds)", panels,
            "Each line is the reported configuration of an optimizer (its learning rate and settings in the legend); bands span ±1 standard deviation over seeds. " +
            "The y axis starts low enough to show runs that failed.", Columns: 2);
    }

    /// <summary>Training seconds to the target against batch size (log-log, ticked at the batch sizes), mean ± std over seeds that reached it; a hollow marker at the top says "not reached".</summary>
    public static Figure TimeToTarget(string resultsDir, double? target = null, string name = "time-to-target")
    {
        target ??= TargetFromTable(resultsDir) ?? throw new ArgumentException($"{resultsDir}: no target accuracy (table.md lacks it); pass one.");
        var reported = Reported(Runs(resultsDir), target);
        var panels = reported.GroupBy(r => r.Seeds[0].Model).Select(model =>
        {
            var batches = model.Select(r => (double)r.Seeds[0].Batch).Distinct().Order().ToArray();
            var reachedAll = model.SelectMany(r => r.Seeds).Where(s => s.SecondsToTarget is not null).Select(s => s.SecondsToTarget!.Value).DefaultIfEmpty(1).ToArray();
            double top = reachedAll.Max() * 2;
            var series = new List<Series>();
            var markers = new List<PointMarker>();
            foreach (var opt in model.GroupBy(r => r.Optimizer).OrderBy(g => OptimizerOrder(g.Key)))
            {
                var points = opt.OrderBy(r => r.Seeds[0].Batch).Select(r =>
                {
                    var s = r.Seeds.Where(x => x.SecondsToTarget is not null).Select(x => x.SecondsToTarget!.Value).ToArray();
                    return (Batch: (double)r.Seeds[0].Batch, Reached: s, Runs: r.Seeds.Count);
                }).ToList();
                var reached = points.Where(p => p.Reached.Length > 0).ToList();
                double Mean(double[] v) => v.Average();
                double Sd(double[] v) => v.Length > 1 ? Math.Sqrt(v.Sum(x => (x - Mean(v)) * (x - Mean(v))) / (v.Length - 1)) : 0;
                series.Add(new Series(opt.Key, reached.Select(p => p.Batch).ToArray(), reached.Select(p => Mean(p.Reached)).ToArray(),
                    reached.Select(p => Math.Max(1e-3, Mean(p.Reached) - Sd(p.Reached))).ToArray(), reached.Select(p => Mean(p.Reached) + Sd(p.Reached)).ToArray(), Markers: true));
                foreach (var p in points.Where(p => p.Reached.Length == 0))
                    markers.Add(new PointMarker(opt.Key, p.Batch, top * Math.Pow(1.4, OptimizerOrder(opt.Key)), Hollow: true));
            }
            return (Panel)new LinePanel($"{model.Key}: time to {100 * target:F2}% (hollow: not reached)", "batch size", "training seconds to target", series)
            {
                LogX = true, LogY = true, XTicks = batches, Markers = markers,
            };
        }).ToList();
        return new Figure(name, $"{Path.GetFileName(Path.TrimEndingDirectorySeparator(resultsDir))}: training seconds to {100 * target:F2}% test accuracy", panels,
            "Mean over the seeds that reached the target (band: ±1 std). Hollow circles above the lines, labelled with the optimizer, mark batch sizes where its reported configuration never reached the target: a missing point means \"not reached\", never \"not run\".", Columns: 2);
    }

    static int OptimizerOrder(string opt) => Array.IndexOf(new[] { "sgd", "adamw", "kfac", "fop" }, opt) is int i and >= 0 ? i : 9;

    static (string, int, string) PanelOrder(string panel)
    {
        var m = System.Text.RegularExpressions.Regex.Match(panel, @"^(.*), batch (\d+)(.*)$");
        return m.Success ? (m.Groups[1].Value, int.Parse(m.Groups[2].Value), m.Groups[3].Value) : (panel, 0, "");
    }
}
