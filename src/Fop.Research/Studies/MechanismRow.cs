namespace Fop.Research.Studies;

/// <summary>One target at a batch and matched rate: FOP's steps over KFAC's (log, paired by seed, where both reached it) and the seeds where only one did.</summary>
public sealed record MatchedReach(double Target, PairedDifference LogStepsRatio, int OnlyFop, int OnlyKfac);

/// <summary>
/// FOP's mechanism at one batch and learning rate: FOP's median |g_perp| / |g_avg|, beta, eta and cos(g1, g2) (means over
/// its seeds), the simple noise scale B_simple (over FOP's and KFAC's runs that logged it), and FOP minus KFAC at this same
/// rate, paired by seed: best validation accuracy in points and steps to each target.
/// </summary>
public sealed record MechanismRow(string Config, int Batch, double Rate, int FopSeeds, int KfacSeeds, ConfidenceInterval PerpRatio, ConfidenceInterval Beta, ConfidenceInterval Eta,
    ConfidenceInterval CosG1G2, ConfidenceInterval NoiseScale, PairedDifference AccuracyDifference, IReadOnlyList<MatchedReach> Steps)
{
    /// <summary>
    /// The rows of every batch and rate where FOP ran (one per config and rate, by batch then rate), from curve points and the
    /// medians of their logs; the KFAC side comes from the curve of optimizer kfac on the same config.
    /// </summary>
    public static IReadOnlyList<MechanismRow> Of(IReadOnlyList<CurveRun> runs, IReadOnlyList<double> targets)
    {
        // A run listed twice (a study passed in two roles) is one run.
        runs = runs.DistinctBy(r => r.RunDir).ToList();
        var medians = runs.ToDictionary(r => r.RunDir, r => MechanismRun.Read(r.RunDir));
        return runs.Where(r => r.Optimizer == CurveClaims.FopOptimizer).GroupBy(r => (r.Config, r.Batch, r.Rate)).OrderBy(g => g.Key.Batch).ThenBy(g => g.Key.Rate).Select(g =>
        {
            var fop = g.ToList();
            var kfac = runs.Where(r => r.Config == g.Key.Config && r.Rate == g.Key.Rate && r.Optimizer == CurveClaims.KfacOptimizer).ToList();
            var pairs = fop.Join(kfac, f => f.Seed, k => k.Seed, (f, k) => (F: f, K: k)).ToList();
            ConfidenceInterval Over(IEnumerable<CurveRun> set, Func<MechanismRun, double> pick) => ConfidenceInterval.Of(set.Select(r => pick(medians[r.RunDir])));
            var steps = targets.Select(t => new MatchedReach(t,
                PairedDifference.Of(pairs.Where(p => p.F.At(t).Reached && p.K.At(t).Reached).Select(p => Math.Log((double)p.F.At(t).Step!.Value / p.K.At(t).Step!.Value))),
                pairs.Count(p => p.F.At(t).Reached && !p.K.At(t).Reached), pairs.Count(p => !p.F.At(t).Reached && p.K.At(t).Reached))).ToList();
            var accuracy = PairedDifference.Of(pairs.Where(p => !p.F.Failed && !p.K.Failed).Select(p => 100 * (p.F.BestValAccuracy - p.K.BestValAccuracy)));
            return new MechanismRow(g.Key.Config, g.Key.Batch, g.Key.Rate, fop.Count, kfac.Count, Over(fop, m => m.PerpRatio), Over(fop, m => m.Beta), Over(fop, m => m.Eta),
                Over(fop, m => m.CosG1G2), Over(fop.Concat(kfac), m => m.NoiseScale), accuracy, steps);
        }).ToList();
    }
}
