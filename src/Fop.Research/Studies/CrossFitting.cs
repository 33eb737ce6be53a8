namespace Fop.Research.Studies;

/// <summary>The rate chosen for one optimizer, metric and held-out seed on the other seeds' runs, and the held-out seed's value there (null: it failed or has no run there).</summary>
public sealed record CrossFitChoice(string Config, string Family, CurveMetric Metric, long HeldOut, double Rate, double? Score);

/// <summary>
/// Chooses a learning rate per optimizer on some seeds and scores it on others, so that the seed a claim is measured on
/// never chose the rate it is measured at. A one-seed selection (the fair study's tuning seed) rests on that seed's luck;
/// leave-one-seed-out selection uses every seed once as the held-out one and the rest to choose.
/// </summary>
public static class CrossFitting
{
    /// <summary>
    /// The rate that <paramref name="seeds"/> choose on one curve: among rates with a run for every one of those seeds, the
    /// fewest failures (no value for the metric), then the best mean value (log steps, so that one slow seed weighs as a
    /// ratio; accuracy as it is); a tie goes to the smaller rate, the cautious side. Null when no rate has all the seeds.
    /// </summary>
    public static double? Choose(IReadOnlyList<CurveRun> curve, CurveMetric metric, IReadOnlyCollection<long> seeds)
    {
        var candidates = curve.GroupBy(r => r.Rate)
            .Select(g => (Rate: g.Key, Runs: g.Where(r => seeds.Contains(r.Seed)).ToList()))
            .Where(c => c.Runs.Select(r => r.Seed).Distinct().Count() == seeds.Count)
            .Select(c =>
            {
                var values = c.Runs.Select(metric.Value).ToList();
                var present = values.OfType<double>().ToList();
                // Lower is better for both keys: accuracy enters negated, steps as logs.
                double mean = present.Count == 0 ? double.PositiveInfinity : present.Average(v => metric.HigherIsBetter ? -v : Math.Log(v));
                return (c.Rate, Failures: values.Count(v => v is null), Mean: mean);
            }).ToList();
        if (candidates.Count == 0) return null;
        return candidates.OrderBy(c => c.Failures).ThenBy(c => c.Mean).ThenBy(c => c.Rate).First().Rate;
    }

    /// <summary>For every seed of the curve: the rate the other seeds choose, and this seed's value at it.</summary>
    public static IReadOnlyList<CrossFitChoice> LeaveOneSeedOut(IReadOnlyList<CurveRun> runs, string config, string family, CurveMetric metric)
    {
        var curve = runs.Where(r => r.Config == config && r.Family == family).ToList();
        var seeds = curve.Select(r => r.Seed).Distinct().Order().ToList();
        var choices = new List<CrossFitChoice>();
        foreach (long held in seeds)
        {
            var others = seeds.Where(s => s != held).ToList();
            if (others.Count == 0 || Choose(curve, metric, others) is not double rate) continue;
            var run = curve.FirstOrDefault(r => r.Rate == rate && r.Seed == held);
            choices.Add(new CrossFitChoice(config, family, metric, held, rate, run is null ? null : metric.Value(run)));
        }
        return choices;
    }

    /// <summary>The fair study's protocol for comparison: the rate <paramref name="selectionSeed"/> chooses, scored on every other seed.</summary>
    public static IReadOnlyList<CrossFitChoice> OneSeed(IReadOnlyList<CurveRun> runs, string config, string family, CurveMetric metric, long selectionSeed)
    {
        var curve = runs.Where(r => r.Config == config && r.Family == family).ToList();
        if (Choose(curve, metric, [selectionSeed]) is not double rate) return [];
        return curve.Where(r => r.Rate == rate && r.Seed != selectionSeed).OrderBy(r => r.Seed)
            .Select(r => new CrossFitChoice(config, family, metric, r.Seed, rate, metric.Value(r))).ToList();
    }
}
