namespace Fop.Research.Studies;

/// <summary>
/// FOP against a comparator on rate curves, as claim cells: each at its cross-fitted rate (selection free of the measured
/// seed), or both at the same rates (the projection's own effect, free of any selection).
/// </summary>
public static class CurveComparisons
{
    /// <summary>
    /// FOP's curve (<paramref name="fop"/>) against <paramref name="other"/> on <paramref name="config"/>, each optimizer at the
    /// rate its other seeds choose for the metric claimed, paired by held-out seed: time to each target, best validation accuracy.
    /// </summary>
    public static IReadOnlyList<CurveCell> CrossFitted(IReadOnlyList<CurveRun> runs, string config, string fop, string other, IReadOnlyList<double> targets, StepCosts costs)
    {
        var cells = new List<CurveCell>();
        var cost = Cost(runs, config, fop, other, costs);
        foreach (var t in targets)
        {
            var metric = CurveMetric.StepsTo(t);
            var pairs = Pair(CrossFitting.LeaveOneSeedOut(runs, config, fop, metric), CrossFitting.LeaveOneSeedOut(runs, config, other, metric));
            cells.Add(Time(config, other, "cross-fitted", metric, pairs, cost));
        }
        var acc = Pair(CrossFitting.LeaveOneSeedOut(runs, config, fop, CurveMetric.BestValAccuracy), CrossFitting.LeaveOneSeedOut(runs, config, other, CurveMetric.BestValAccuracy));
        cells.Add(Accuracy(config, other, "cross-fitted", acc.Where(p => p.F is not null && p.O is not null).Select(p => (p.F!.Value, p.O!.Value)).ToList()));
        return cells;
    }

    /// <summary>
    /// FOP against <paramref name="other"/> at every rate both ran on <paramref name="config"/>, paired by rate and seed:
    /// reaching each target (exact McNemar), time to it where both reached it, and best validation accuracy where neither failed.
    /// </summary>
    public static IReadOnlyList<CurveCell> MatchedRates(IReadOnlyList<CurveRun> runs, string config, string fop, string other, IReadOnlyList<double> targets, StepCosts costs)
    {
        var pairs = MatchedPairs(runs, config, fop, other);
        var cells = new List<CurveCell>();
        if (pairs.Count == 0) return cells;
        var cost = Cost(runs, config, fop, other, costs);
        const string basis = "matched rates";
        foreach (var t in targets)
        {
            var metric = CurveMetric.StepsTo(t);
            var steps = pairs.Select(p => (F: metric.Value(p.F), O: metric.Value(p.O))).ToList();
            int onlyF = steps.Count(s => s.F is not null && s.O is null), onlyO = steps.Count(s => s.F is null && s.O is not null);
            cells.Add(new CurveCell(config, other, basis, metric, CellKind.Reach, pairs.Count, onlyF, onlyO, onlyF - onlyO, double.NaN, double.NaN, McNemarExact.TwoSided(onlyF, onlyO), null));
            cells.Add(Time(config, other, basis, metric, steps, cost));
        }
        cells.Add(Accuracy(config, other, basis, pairs.Where(p => !p.F.Failed && !p.O.Failed && double.IsFinite(p.F.BestValAccuracy) && double.IsFinite(p.O.BestValAccuracy))
            .Select(p => (p.F.BestValAccuracy, p.O.BestValAccuracy)).ToList()));
        return cells;
    }

    /// <summary>The runs of two curves at the same rate and seed.</summary>
    public static IReadOnlyList<(CurveRun F, CurveRun O)> MatchedPairs(IReadOnlyList<CurveRun> runs, string config, string fop, string other) =>
        runs.Where(r => r.Config == config && r.Family == fop)
            .Join(runs.Where(r => r.Config == config && r.Family == other), r => (r.Rate, r.Seed), r => (r.Rate, r.Seed), (f, o) => (f, o))
            .OrderBy(p => p.f.Rate).ThenBy(p => p.f.Seed).ToList();

    /// <summary>The cost of the two curves' optimizers (null when either has no runs on the config).</summary>
    static CostRatio? Cost(IReadOnlyList<CurveRun> runs, string config, string fop, string other, StepCosts costs)
    {
        string? Optimizer(string family) => runs.FirstOrDefault(r => r.Config == config && r.Family == family)?.Optimizer;
        return Optimizer(fop) is { } a && Optimizer(other) is { } b ? costs.Ratio(runs, config, a, b) : null;
    }

    static List<(double? F, double? O)> Pair(IReadOnlyList<CrossFitChoice> fop, IReadOnlyList<CrossFitChoice> other) =>
        fop.Join(other, c => c.HeldOut, c => c.HeldOut, (f, o) => (f.Score, o.Score)).ToList();

    /// <summary>
    /// Time ratio over the pairs where both reached the target: steps ratio times cost ratio. The cost is a measured constant
    /// with a range (the bench's rounds), not a sampled quantity, so it is not averaged into the t-interval: the interval of
    /// the log steps ratio is shifted by the log cost's low end below and its high end above, and the p-value is the largest
    /// over that range — the time ratio is claimed only if it holds for every cost the bench allows.
    /// </summary>
    static CurveCell Time(string config, string other, string basis, CurveMetric metric, IReadOnlyList<(double? F, double? O)> steps, CostRatio? cost)
    {
        int onlyF = steps.Count(s => s.F is not null && s.O is null), onlyO = steps.Count(s => s.F is null && s.O is not null);
        var logs = PairedDifference.Of(steps.Where(s => s.F is not null && s.O is not null).Select(s => Math.Log(s.F!.Value / s.O!.Value)));
        var c = cost ?? new CostRatio(1, 1, 1, "none");
        var time = logs.Shifted(Math.Log(c.Median), Math.Log(c.Min), Math.Log(c.Max));
        return new CurveCell(config, other, basis, metric, CellKind.TimeRatio, time.Count, onlyF, onlyO, Math.Exp(time.Mean), Math.Exp(time.Lower), Math.Exp(time.Upper), time.P, cost);
    }

    static CurveCell Accuracy(string config, string other, string basis, IReadOnlyList<(double F, double O)> pairs)
    {
        var d = PairedDifference.Of(pairs.Select(p => 100 * (p.F - p.O)));
        return new CurveCell(config, other, basis, CurveMetric.BestValAccuracy, CellKind.AccuracyDifference, d.Count, 0, 0, d.Mean, d.Lower, d.Upper, d.P, null);
    }
}
