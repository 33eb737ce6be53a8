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
            var seeds = runs.Where(r => r.Variant == variant).Select(r => Tables.RunLog(Path.Combine(r.RunDir, "metrics.csv"))).ToList();
            int epochs = seeds.Min(m => (int)m.Rows.Count);
            var per = Enumerable.Range(0, epochs).Select(e => Tables.MeanStd(seeds.Select(m => scale * Tables.Doubles(m, column)[e]).Where(double.IsFinite).ToArray()))
                .Select(p => p.Mean > cap ? (Mean: double.NaN, Std: double.NaN) : p).ToArray();
            var x = Enumerable.Range(1, epochs).Select(e => (double)e).ToArray();
            bool cut = per.Any(p => double.IsNaN(p.Mean));
            return new Series($"{variant} ({seeds.Count} seed{(seeds.Count == 1 ? "" : "s")}{(cut ? $"; above {cap:g3} not drawn" : "")})", x, per.Select(p => p.Mean).ToArray(),
                seeds.Count > 1 ? per.Select(p => p.Mean - p.Std).ToArray() : null, seeds.Count > 1 ? per.Select(p => p.Mean + p.Std).ToArray() : null);
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
        return Tables.GroupStats(df, ["variant"], ["best_accuracy", "final_accuracy", "seconds_to_target", "ms_per_step"]);
    }
}
