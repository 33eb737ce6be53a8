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
    public static Figure AccuracyOverTime(string resultsDir, double? target = null, string name = "accuracy-vs-time") =>
        CurveFigure(resultsDir, target ?? TargetFromTable(resultsDir), name, "train_seconds", "training seconds", "test_accuracy", "test accuracy (%)", 100, logY: false, "test accuracy against training time");

    /// <summary>Test accuracy against epochs (the sample-efficiency view: equal epochs mean equal examples seen, fewer steps at larger batches).</summary>
    public static Figure AccuracyByEpoch(string resultsDir, double? target = null, string name = "accuracy-by-epoch") =>
        CurveFigure(resultsDir, target ?? TargetFromTable(resultsDir), name, "epoch", "epoch", "test_accuracy", "test accuracy (%)", 100, logY: false, "test accuracy by epoch");

    /// <summary>Training and test loss against training seconds (log axis); null for a study whose curves.csv predates the loss columns.</summary>
    public static Figure? LossOverTime(string resultsDir, string name = "loss-vs-time")
    {
        var curves = Tables.Curves(Path.Combine(resultsDir, "curves.csv"));
        if (!Tables.Doubles(curves, "test_loss").Any(double.IsFinite)) return null;
        var test = CurveFigure(resultsDir, null, name, "train_seconds", "training seconds", "test_loss", "test loss", 1, logY: true, "test loss against training time");
        return test with { Caption = test.Caption + " Test loss rising while accuracy holds is overfitting (the 100-epoch budget at small batches)." };
    }

    static Figure CurveFigure(string resultsDir, double? target, string name, string xColumn, string xLabel, string yColumn, string yLabel, double scale, bool logY, string what)
    {
        var runs = Runs(resultsDir);
        var curves = Tables.Curves(Path.Combine(resultsDir, "curves.csv"));
        var (run, epoch, xs, ys) = (Tables.Strings(curves, "run"), Tables.Doubles(curves, "epoch"), Tables.Doubles(curves, xColumn), Tables.Doubles(curves, yColumn));
        var byRun = Enumerable.Range(0, run.Length).GroupBy(i => run[i]).ToDictionary(g => g.Key, g => g.OrderBy(i => epoch[i]).Select(i => (X: xs[i], Y: scale * ys[i])).ToList());
        var reported = Reported(runs, target);
        bool accuracy = yColumn.EndsWith("accuracy", StringComparison.Ordinal);
        double low = ys.Where(double.IsFinite).Select(v => scale * v).DefaultIfEmpty(0).Min();
        var panels = reported.GroupBy(r => r.Panel).OrderBy(g => PanelOrder(g.Key)).Select(g =>
        {
            var series = g.OrderBy(r => OptimizerOrder(r.Optimizer)).Select(r =>
            {
                var seedCurves = r.Seeds.Where(s => byRun.ContainsKey(s.Run)).Select(s => byRun[s.Run]).ToList();
                int epochs = seedCurves.Count == 0 ? 0 : seedCurves.Max(c => c.Count);
                var x = new List<double>(); var y = new List<double>(); var lo = new List<double>(); var hi = new List<double>();
                for (int e = 0; e < epochs; e++)
                {
                    var at = seedCurves.Where(c => c.Count > e && double.IsFinite(c[e].Y)).Select(c => c[e]).ToList();
                    if (at.Count == 0) continue;
                    var (mean, sd) = Tables.MeanStd(at.Select(p => p.Y).ToArray());
                    x.Add(at.Average(p => p.X)); y.Add(mean); lo.Add(mean - sd); hi.Add(mean + sd);
                }
                return new Series($"{r.Configuration} ({seedCurves.Count} seed{(seedCurves.Count == 1 ? "" : "s")})", x.ToArray(), y.ToArray(),
                    seedCurves.Count > 1 ? lo.ToArray() : null, seedCurves.Count > 1 ? hi.ToArray() : null);
            }).ToList();
            return (Panel)new LinePanel(g.Key, xLabel, yLabel, series)
            {
                Target = accuracy ? target * 100 : null, TargetLabel = target is double t ? $"target {100 * t:F2}%" : "target", LogY = logY,
                YRange = accuracy ? (Math.Max(0, Math.Floor(low / 5) * 5), 100) : null,
            };
        }).ToList();
        return new Figure(name, $"{Path.GetFileName(Path.TrimEndingDirectorySeparator(resultsDir))}: {what} (mean ± std over seeds)", panels,
            "Each line is the reported configuration of an optimizer (its learning rate and settings in the legend); bands span ±1 standard deviation over seeds. " +
            (accuracy ? "The y axis starts low enough to show runs that failed." : ""), Columns: 2);
    }

    /// <summary>
    /// Speed-up in training seconds to the target against batch size: SGD's time at the smallest batch divided by each
    /// optimizer's mean time at each batch (log-log, ticked at the batch sizes); above 1 is faster than the small-batch
    /// SGD baseline, the paper's Fig. 3 quantity. Batches where no seed reached the target are marked in the failure strip.
    /// </summary>
    public static Figure SpeedUp(string resultsDir, double? target = null, string name = "speed-up")
    {
        target ??= TargetFromTable(resultsDir) ?? throw new ArgumentException($"{resultsDir}: no target accuracy (table.md lacks it); pass one.");
        var reported = Reported(Runs(resultsDir), target);
        var panels = reported.GroupBy(r => r.Seeds[0].Model).Select(model =>
        {
            var batches = model.Select(r => (double)r.Seeds[0].Batch).Distinct().Order().ToArray();
            var baseline = model.Where(r => r.Optimizer == "sgd").OrderBy(r => r.Seeds[0].Batch).FirstOrDefault();
            var baseTimes = baseline.Seeds?.Where(s => s.SecondsToTarget is not null).Select(s => s.SecondsToTarget!.Value).ToArray() ?? [];
            if (baseTimes.Length == 0) return null;
            double reference = baseTimes.Average();
            var series = new List<Series>();
            foreach (var opt in model.GroupBy(r => r.Optimizer).OrderBy(g => OptimizerOrder(g.Key)))
            {
                var points = opt.OrderBy(r => r.Seeds[0].Batch).Select(r => (Batch: (double)r.Seeds[0].Batch,
                    Seconds: r.Seeds.Where(s => s.SecondsToTarget is not null).Select(s => s.SecondsToTarget!.Value).ToArray())).ToList();
                var reached = points.Where(p => p.Seconds.Length > 0).ToList();
                // Ratio of means, as table.md computes it; the band is the ±1 std band of the seconds, inverted.
                var stats = reached.Select(p => Tables.MeanStd(p.Seconds)).ToList();
                // Batches where no seed reached the target go to the failure strip under the data, never to a made-up speed-up.
                series.Add(new Series(opt.Key, reached.Select(p => p.Batch).ToArray(), stats.Select(s => reference / s.Mean).ToArray(),
                    stats.Select(s => reference / (s.Mean + s.Std)).ToArray(), stats.Select(s => reference / Math.Max(1e-3, s.Mean - s.Std)).ToArray(), Markers: true)
                {
                    Failures = points.Where(p => p.Seconds.Length == 0).Select(p => new Failure(p.Batch, FailureKind.NotReached)).ToList(),
                });
            }
            return (Panel)new LinePanel($"{model.Key}: speed-up to {100 * target:F2}% over SGD at batch {baseline.Seeds![0].Batch}", "batch size", "speed-up (x)", series)
            {
                LogX = true, LogY = true, XTicks = batches, References = [("SGD at the smallest batch", 1)],
            };
        }).OfType<Panel>().ToList();
        if (panels.Count == 0) throw new ArgumentException($"{resultsDir}: SGD never reached the target at its smallest batch, so there is no baseline for a speed-up.");
        return new Figure(name, $"{Path.GetFileName(Path.TrimEndingDirectorySeparator(resultsDir))}: speed-up in training seconds to {100 * target:F2}%", panels,
            "Speed-up = mean seconds to target of SGD at the smallest batch / mean seconds of the optimizer at that batch, over the seeds that reached it (band: the ±1 std band of the seconds). " +
            "On one CPU a larger batch is not faster per example, so these show how many fewer examples each optimizer needs, not a parallel speed-up.", Columns: 2);
    }

    /// <summary>Training seconds to the target against batch size (log-log, ticked at the batch sizes), mean ± std over seeds that reached it; "not reached" is marked in the failure strip.</summary>
    public static Figure TimeToTarget(string resultsDir, double? target = null, string name = "time-to-target")
    {
        target ??= TargetFromTable(resultsDir) ?? throw new ArgumentException($"{resultsDir}: no target accuracy (table.md lacks it); pass one.");
        var reported = Reported(Runs(resultsDir), target);
        var panels = reported.GroupBy(r => r.Seeds[0].Model).Select(model =>
        {
            var batches = model.Select(r => (double)r.Seeds[0].Batch).Distinct().Order().ToArray();
            var series = new List<Series>();
            foreach (var opt in model.GroupBy(r => r.Optimizer).OrderBy(g => OptimizerOrder(g.Key)))
            {
                var points = opt.OrderBy(r => r.Seeds[0].Batch).Select(r =>
                {
                    var s = r.Seeds.Where(x => x.SecondsToTarget is not null).Select(x => x.SecondsToTarget!.Value).ToArray();
                    return (Batch: (double)r.Seeds[0].Batch, Reached: s, Runs: r.Seeds.Count);
                }).ToList();
                var reached = points.Where(p => p.Reached.Length > 0).ToList();
                var stats = reached.Select(p => Tables.MeanStd(p.Reached)).ToList();
                series.Add(new Series(opt.Key, reached.Select(p => p.Batch).ToArray(), stats.Select(s => s.Mean).ToArray(),
                    stats.Select(s => Math.Max(1e-3, s.Mean - s.Std)).ToArray(), stats.Select(s => s.Mean + s.Std).ToArray(), Markers: true)
                {
                    Failures = points.Where(p => p.Reached.Length == 0).Select(p => new Failure(p.Batch, FailureKind.NotReached)).ToList(),
                });
            }
            return (Panel)new LinePanel($"{model.Key}: time to {100 * target:F2}%", "batch size", "training seconds to target", series)
            {
                LogX = true, LogY = true, XTicks = batches,
            };
        }).ToList();
        return new Figure(name, $"{Path.GetFileName(Path.TrimEndingDirectorySeparator(resultsDir))}: training seconds to {100 * target:F2}% test accuracy", panels,
            "Mean over the seeds that reached the target (band: ±1 std). Batch sizes where an optimizer's reported configuration never reached the target are marked in the failure strip under the data, in its colour: a missing point means \"not reached\", never \"not run\".", Columns: 2);
    }

    /// <summary>
    /// The table behind the figures: for each model, batch and optimizer, the reported configuration with its number of
    /// seeds, how many reached the target, and mean and standard deviation of best and final accuracy and of the
    /// seconds and epochs to target (over the seeds that reached it).
    /// </summary>
    public static Microsoft.Data.Analysis.DataFrame Summary(string resultsDir, double? target = null)
    {
        target ??= TargetFromTable(resultsDir);
        var rows = Reported(Runs(resultsDir), target).SelectMany(r => r.Seeds.Select(s => (r.Configuration, Run: s)))
            .OrderBy(r => r.Run.Model, StringComparer.Ordinal).ThenBy(r => r.Run.Batch).ThenBy(r => OptimizerOrder(r.Run.Optimizer)).ToList();
        var table = new Microsoft.Data.Analysis.DataFrame(
            new Microsoft.Data.Analysis.StringDataFrameColumn("model", rows.Select(r => r.Run.Model)),
            new Microsoft.Data.Analysis.Int32DataFrameColumn("batch", rows.Select(r => r.Run.Batch)),
            new Microsoft.Data.Analysis.StringDataFrameColumn("optimizer", rows.Select(r => r.Run.Optimizer)),
            new Microsoft.Data.Analysis.StringDataFrameColumn("configuration", rows.Select(r => r.Configuration)),
            new Microsoft.Data.Analysis.DoubleDataFrameColumn("reached", rows.Select(r => r.Run.SecondsToTarget is null ? 0.0 : 1.0)),
            new Microsoft.Data.Analysis.DoubleDataFrameColumn("best_accuracy", rows.Select(r => r.Run.BestAccuracy)),
            new Microsoft.Data.Analysis.DoubleDataFrameColumn("final_accuracy", rows.Select(r => r.Run.FinalAccuracy)),
            new Microsoft.Data.Analysis.DoubleDataFrameColumn("seconds_to_target", rows.Select(r => r.Run.SecondsToTarget ?? double.NaN)),
            new Microsoft.Data.Analysis.DoubleDataFrameColumn("epochs_to_target", rows.Select(r => r.Run.EpochsToTarget ?? double.NaN)));
        var summary = Tables.GroupStats(table, ["model", "batch", "optimizer", "configuration"], ["best_accuracy", "final_accuracy", "seconds_to_target", "epochs_to_target"]);
        var reached = Tables.GroupStats(table, ["model", "batch", "optimizer", "configuration"], ["reached"]);
        summary.Columns.Insert(5, new Microsoft.Data.Analysis.Int32DataFrameColumn("reached", Tables.Doubles(reached, "reached_mean").Zip(Tables.Doubles(summary, "runs"), (m, n) => (int)Math.Round(m * n))));
        return summary;
    }

    static int OptimizerOrder(string opt) => Array.IndexOf(new[] { "sgd", "adamw", "kfac", "fop" }, opt) is int i and >= 0 ? i : 9;

    static (string, int, string) PanelOrder(string panel)
    {
        var m = System.Text.RegularExpressions.Regex.Match(panel, @"^(.*), batch (\d+)(.*)$");
        return m.Success ? (m.Groups[1].Value, int.Parse(m.Groups[2].Value), m.Groups[3].Value) : (panel, 0, "");
    }
}
