using Fop.Research.Io;
using Fop.Research.Plots.Figures;
using Fop.Research.Studies;
using Microsoft.Data.Analysis;

namespace Fop.Research.Plots.Views;

/// <summary>Figures and tables of a one-switch-at-a-time ablation: curves with seed bands, and mean and std per variant.</summary>
public static class AblationViews
{
    /// <summary>Test accuracy and test loss by epoch, one line per variant (mean over seeds, ±1 std band).</summary>
    public static Figure Curves(IReadOnlyList<AblationRun> runs, double? target = null, string name = "ablation-curves")
    {
        Series Line(string variant, string column, double scale, double cap = double.PositiveInfinity)
        {
            var mine = runs.Where(r => r.Variant == variant).ToList();
            var seeds = mine.Select(r => CsvColumns.ReadLog(Path.Combine(r.RunDir, "metrics.csv"))).ToList();
            // Every epoch any seed reached is drawn (the mean over the seeds still going): a variant whose runs diverged stays
            // in the figure, its line as long as its longest run, and its legend entry says how many stopped.
            int epochs = seeds.Max(m => (int)m.Count);
            var per = Enumerable.Range(0, epochs).Select(e => Tables.MeanStd(seeds.Where(m => m.Count > e).Select(m => scale * m.Doubles(column)[e]).Where(double.IsFinite).ToArray()))
                .Select(p => p.Mean > cap ? (Mean: double.NaN, Std: double.NaN) : p).ToArray();
            var x = Enumerable.Range(1, epochs).Select(e => (double)e).ToArray();
            bool cut = per.Any(p => double.IsNaN(p.Mean));
            int stopped = mine.Count(r => r.Summary.Diverged is not null);
            string note = stopped == 0 ? "" : epochs == 0 ? $"; all {stopped} diverged before their first evaluation: nothing to draw" : $"; {stopped} diverged or stalled, the mean is over the seeds still going";
            return new Series($"{variant} ({seeds.Count} seed{(seeds.Count == 1 ? "" : "s")}{(cut ? $"; above {cap:g3} not drawn" : "")}{note})", x, per.Select(p => p.Mean).ToArray(),
                seeds.Count > 1 ? per.Select(p => p.Mean - p.Std).ToArray() : null, seeds.Count > 1 ? per.Select(p => p.Mean + p.Std).ToArray() : null, Markers: epochs <= 2);
        }
        var variants = runs.Select(r => r.Variant).Distinct().ToList();
        int last = runs.Max(r => r.Summary.EpochsRun);
        double[]? epochs = last is > 0 and <= 12 ? Enumerable.Range(1, last).Select(e => (double)e).ToArray() : null;
        // A run that blew up (test loss in the 1e20s) would squash every other loss curve into one line: values above 100
        // are left out, and its legend entry says so; every variant keeps its colour in both panels.
        return new Figure(name, "Ablation: each switch changed alone (mean ± std over seeds)",
        [
            new LinePanel("test accuracy by epoch", "epoch", "test accuracy (%)", variants.Select(v => Line(v, "test_accuracy", 100)).ToList()) { Target = target * 100, XTicks = epochs },
            new LinePanel("test loss by epoch", "epoch", "test loss", variants.Select(v => Line(v, "test_loss", 1, cap: 100)).ToList()) { LogY = true, XTicks = epochs },
        ], "Bands span ±1 standard deviation over seeds; a variant whose band overlaps the paper configuration's is not distinguishable from it with these seeds. " +
           "A run stops early when it diverges or stalls, so its line is short.", Columns: 1);
    }

    /// <summary>Per variant: runs, best and final test accuracy, training seconds, median ms/step and, with a target, seconds to it (mean and std over seeds that reached it).</summary>
    public static DataFrame Table(IReadOnlyList<AblationRun> runs)
    {
        var df = new DataFrame(
            new StringDataFrameColumn("variant", runs.Select(r => r.Variant)),
            new DoubleDataFrameColumn("best_accuracy", runs.Select(r => r.Summary.BestTestAccuracy)),
            new DoubleDataFrameColumn("final_accuracy", runs.Select(r => r.Summary.FinalTestAccuracy)),
            new DoubleDataFrameColumn("seconds_to_target", runs.Select(r => r.Summary.TimeToTarget?.TrainSeconds ?? double.NaN)),
            new DoubleDataFrameColumn("ms_per_step", runs.Select(r => r.Summary.MedianStepMs)));
        var stats = Tables.GroupStats(df, ["variant"], ["best_accuracy", "final_accuracy", "seconds_to_target", "ms_per_step"]);
        // Seconds to the target are averaged over the seeds that reached it: how many did, and how many diverged, stand beside them.
        var names = Tables.Strings(stats, "variant");
        stats.Columns.Add(new StringDataFrameColumn("reached_target", names.Select(v => runs.Where(r => r.Variant == v) is var mine
            && mine.Any(r => r.Summary.TargetAccuracy is not null) ? $"{mine.Count(r => r.Summary.TimeToTarget is not null)}/{mine.Count()}" : "-")));
        stats.Columns.Add(new StringDataFrameColumn("diverged_or_stalled", names.Select(v => $"{runs.Count(r => r.Variant == v && r.Summary.Diverged is not null)}/{runs.Count(r => r.Variant == v)}")));
        return stats;
    }
}
