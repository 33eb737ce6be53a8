using System.Globalization;
using Fop.Research.Plots.Figures;
using Fop.Research.Studies;

namespace Fop.Research.Plots.Views;

/// <summary>
/// Figures of rate-sensitivity studies: each metric against the learning rate (log axis, ticked at the grid's rates), and
/// FOP's mechanism against batch size. Runs without a value (a target never reached, a run that diverged) are failures in
/// a strip of their own below the data, never points at made-up values.
/// </summary>
public static class RateCurveViews
{
    /// <summary>
    /// One config of a curves study: steps to each target and best validation accuracy against the rate, one line per
    /// optimizer through the mean of the seeds that have a value, the band spanning those seeds, failures in the strip.
    /// </summary>
    public static Figure Curves(CurveStudy study, string config, string? name = null)
    {
        var runs = study.Runs.Where(r => r.Config == config).ToList();
        var ticks = Ticks(runs.Select(r => r.Rate));
        var metrics = study.Targets.Select(CurveMetric.StepsTo).Append(CurveMetric.BestValAccuracy).ToList();
        var panels = metrics.Select(m => (Panel)new LinePanel(m.HigherIsBetter ? "best validation accuracy" : $"{m.Name} (validation)",
            "learning rate", m.HigherIsBetter ? "best validation accuracy (%)" : "optimizer steps",
            study.Families(config).Select(f => Line(runs.Where(r => r.Family == f).ToList(), f, m)).ToList())
        { LogX = true, XTicks = ticks }).ToList();
        int seeds = runs.Select(r => r.Seed).Distinct().Count();
        return new Figure(name ?? $"rate-curves-{config}", $"{study.Study.Name}, {config}: rate curves ({seeds} seeds per rate)", panels,
            "Each line: one optimizer, through the mean over the seeds that have a value at that rate; the band spans those seeds. " +
            "Runs with no value are not drawn on the data axis: the strip marked 'failed' shows, at their rate, runs that never reached the target (circle) or diverged or stalled (cross), with their number.",
            Columns: 2);
    }

    static Series Line(IReadOnlyList<CurveRun> curve, string family, CurveMetric metric)
    {
        var (x, y, lo, hi) = (new List<double>(), new List<double>(), new List<double>(), new List<double>());
        var failures = new List<Failure>();
        foreach (var at in curve.GroupBy(r => r.Rate).OrderBy(g => g.Key))
        {
            // A failed run's accuracy before it broke down is not the accuracy of that rate: it counts as a failure here too.
            var values = at.Where(r => !(metric.HigherIsBetter && r.Failed)).Select(metric.Value).OfType<double>().Select(v => metric.HigherIsBetter ? 100 * v : v).ToList();
            if (values.Count > 0) { x.Add(at.Key); y.Add(values.Average()); lo.Add(values.Min()); hi.Add(values.Max()); }
            int diverged = at.Count(r => r.Failed && (metric.HigherIsBetter || metric.Value(r) is null));
            int missed = at.Count(r => !r.Failed && metric.Value(r) is null);
            if (diverged > 0) failures.Add(new Failure(at.Key, FailureKind.Diverged, diverged));
            if (missed > 0) failures.Add(new Failure(at.Key, FailureKind.NotReached, missed));
        }
        return new Series(family, x.ToArray(), y.ToArray(), lo.ToArray(), hi.ToArray(), Markers: true) { Failures = failures };
    }

    /// <summary>
    /// The rates as ticks, leaving out any closer than a fifth of a decade to the last one kept (interleaved grids would
    /// overprint), but always both ends: the axis spans its ticks, and a curve's last rate must not fall off it.
    /// </summary>
    static double[] Ticks(IEnumerable<double> rates)
    {
        var all = rates.Distinct().Order().ToList();
        var kept = new List<double>();
        foreach (var r in all)
            if (kept.Count == 0 || Math.Log10(r / kept[^1]) >= 0.2) kept.Add(r);
        if (all.Count > 0 && kept[^1] != all[^1])
        {
            if (kept.Count > 1 && Math.Log10(all[^1] / kept[^1]) < 0.2) kept[^1] = all[^1];
            else kept.Add(all[^1]);
        }
        return kept.ToArray();
    }

    /// <summary>
    /// FOP's mechanism against batch size, one line per learning rate: median |g_perp| / |g_avg|, beta and eta of FOP's runs,
    /// the simple noise scale B_simple beside the batch itself, and FOP minus KFAC at that same rate in best validation
    /// accuracy and in steps to a target (the target in the middle of those read).
    /// </summary>
    public static Figure Mechanism(IReadOnlyList<MechanismRow> rows, string name = "mechanism-vs-batch")
    {
        var batches = rows.Select(r => (double)r.Batch).Distinct().Order().ToArray();
        var rates = rows.Select(r => r.Rate).Distinct().Order().ToList();
        var targets = rows.SelectMany(r => r.Steps.Select(s => s.Target)).Distinct().Order().ToList();
        double? middle = targets.Count == 0 ? null : targets[targets.Count / 2];
        string Rate(double r) => "lr " + r.ToString("g4", CultureInfo.InvariantCulture);

        LinePanel Panel(string title, string y, Func<MechanismRow, (double Mean, double Lo, double Hi)> pick, bool logY = false) =>
            new(title, "batch size", y, rates.Select(rate =>
            {
                var mine = rows.Where(r => r.Rate == rate).Select(r => (r.Batch, V: pick(r))).Where(p => double.IsFinite(p.V.Mean) && (!logY || p.V.Mean > 0)).OrderBy(p => p.Batch).ToList();
                bool band = mine.All(p => double.IsFinite(p.V.Lo) && double.IsFinite(p.V.Hi) && (!logY || p.V.Lo > 0));
                // One colour per rate in every panel, whichever rates a panel has values for.
                return new Series(Rate(rate), mine.Select(p => (double)p.Batch).ToArray(), mine.Select(p => p.V.Mean).ToArray(),
                    band ? mine.Select(p => p.V.Lo).ToArray() : null, band ? mine.Select(p => p.V.Hi).ToArray() : null, Markers: true) { PaletteIndex = rates.IndexOf(rate) };
            }).Where(s => s.X.Length > 0).ToList())
            { LogX = true, XTicks = batches, LogY = logY };

        static (double, double, double) Ci(ConfidenceInterval c) => (c.Mean, c.Lower, c.Upper);
        var noise = Panel("gradient noise scale B_simple", "B_simple (examples)", r => Ci(r.NoiseScale), logY: true);
        noise = noise with { Series = noise.Series.Append(new Series("B_simple = batch", batches, batches, Dashed: true) { PaletteIndex = rates.Count }).ToList() };
        var panels = new List<Panel>
        {
            Panel("FOP: median |g_perp| / |g_avg|", "|g_perp| / |g_avg|", r => Ci(r.PerpRatio)),
            Panel("FOP: median beta", "beta", r => Ci(r.Beta)),
            Panel("FOP: median eta", "eta", r => Ci(r.Eta)),
            noise,
            Panel("FOP - KFAC, same rate: best validation accuracy", "difference (points)", r => (r.AccuracyDifference.Mean, r.AccuracyDifference.Lower, r.AccuracyDifference.Upper)) with { References = [("no difference", 0)] },
        };
        if (middle is double t)
            panels.Add(Panel($"FOP / KFAC, same rate: steps to {(100 * t).ToString("0.##", CultureInfo.InvariantCulture)}%", "steps ratio (geometric mean)", r =>
            {
                var d = r.Steps.First(s => s.Target == t).LogStepsRatio;
                return (Math.Exp(d.Mean), Math.Exp(d.Lower), Math.Exp(d.Upper));
            }) with { References = [("equal", 1)] });
        return new Figure(name, "FOP's mechanism against batch size (MLP, Fashion-MNIST)", panels,
            "Medians over each run's logged steps, averaged over seeds (band: 95% interval over seeds where there are several). Batches 512-27,500 from the mechanism study, 8192 and 55,000 from the curves studies " +
            "(which keep gradient-noise logging off, so B_simple is missing there). The dashed line marks B_simple = batch: above it a batch is smaller than the noise scale.",
            Columns: 2);
    }
}
