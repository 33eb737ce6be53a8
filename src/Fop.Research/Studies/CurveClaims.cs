namespace Fop.Research.Studies;

/// <summary>A claim cell with its place in the declared family, its Holm decision (null outside the family) and its verdict (null outside the family).</summary>
public sealed record DecidedCell(CurveCell Cell, bool InFamily, HolmDecision? Holm, Verdict? Verdict);

/// <summary>
/// The claims on rate curves. The family is declared here, before any result: for every base config of the claim studies,
/// FOP against every other optimizer at its cross-fitted rate (time to each target, best validation accuracy) and against
/// KFAC at matched rates (reaching each target, time to it, best validation accuracy). Holm's step-down at
/// <see cref="ClaimRules.Alpha"/> over the whole family decides which cells can be called supported or not; replication
/// studies get the same cells, reported with their raw p-values and no verdict.
/// </summary>
public static class CurveClaims
{
    /// <summary>The family label of FOP's curve in a study: its variants whose optimizer is fop.</summary>
    public const string FopOptimizer = "fop";
    /// <summary>The optimizer whose curve FOP is matched against rate for rate (the projection is what FOP adds to it).</summary>
    public const string KfacOptimizer = "kfac";

    /// <summary>Every cell of <paramref name="study"/>, per base config: cross-fitted against each comparator, then matched rates against KFAC.</summary>
    public static IReadOnlyList<CurveCell> Cells(CurveStudy study)
    {
        var cells = new List<CurveCell>();
        foreach (var config in study.Configs)
        {
            var families = study.Families(config);
            string? Of(string optimizer) => families.FirstOrDefault(f => study.Runs.First(r => r.Config == config && r.Family == f).Optimizer == optimizer);
            if (Of(FopOptimizer) is not { } fop) continue;
            foreach (var other in families.Where(f => f != fop))
                cells.AddRange(CurveComparisons.CrossFitted(study.Runs, config, fop, other, study.Targets, study.Costs));
            if (Of(KfacOptimizer) is { } kfac) cells.AddRange(CurveComparisons.MatchedRates(study.Runs, config, fop, kfac, study.Targets, study.Costs));
        }
        return cells;
    }

    /// <summary>
    /// The second family, declared before any of its runs (issue 30): FOP's curve in <paramref name="fop"/> against every
    /// optimizer of <paramref name="comparators"/> (Shampoo, SOAP, Muon) on each base config both ran, each at its
    /// cross-fitted rate, at the comparator study's targets: time to each target and best validation accuracy. No matched
    /// rates: their rates do not mean the same step size as FOP's. Holm runs over this family apart from the first, so adding
    /// optimizers to the comparison changes no verdict of the FOP-against-SGD/AdamW/KFAC claims.
    /// </summary>
    public static IReadOnlyList<CurveCell> ComparatorCells(CurveStudy fop, CurveStudy comparators)
    {
        var cells = new List<CurveCell>();
        foreach (var config in comparators.Configs)
        {
            var fopFamily = fop.Configs.Contains(config) ? fop.Families(config).FirstOrDefault(f => fop.Runs.First(r => r.Config == config && r.Family == f).Optimizer == FopOptimizer) : null;
            if (fopFamily is null) continue;
            var runs = fop.Runs.Where(r => r.Config == config && r.Family == fopFamily).Concat(comparators.Runs.Where(r => r.Config == config)).ToList();
            foreach (var other in comparators.Families(config).Where(f => f != fopFamily))
                cells.AddRange(CurveComparisons.CrossFitted(runs, config, fopFamily, other, comparators.Targets, comparators.Costs));
        }
        return cells;
    }

    /// <summary>Holm over <paramref name="family"/> at <see cref="ClaimRules.Alpha"/>, verdicts from the decisions; <paramref name="replication"/> follows, undecided by design.</summary>
    public static IReadOnlyList<DecidedCell> Decide(IReadOnlyList<CurveCell> family, IReadOnlyList<CurveCell> replication)
    {
        var holm = HolmBonferroni.Adjust(family.Select(c => c.P).ToList(), ClaimRules.Alpha);
        return family.Select((c, i) => new DecidedCell(c, true, holm[i], VerdictOf(c, holm[i].Rejected)))
            .Concat(replication.Select(c => new DecidedCell(c, false, null, null))).ToList();
    }

    /// <summary>
    /// A cell's verdict given whether Holm rejects no difference for it. The claimed direction is FOP faster, more accurate,
    /// reaching more often. Supported: rejected, in that direction. Not supported: rejected the other way, an interval inside
    /// the equivalence band (<see cref="ClaimRules.RatioBand"/>, ±<see cref="ClaimRules.AccuracyBand"/> points), or for
    /// reaching when the comparator alone reaches it in at least as many pairs as FOP alone. Undecided otherwise, and below
    /// <see cref="ClaimRules.MinPairs"/> pairs for an interval.
    /// </summary>
    public static Verdict VerdictOf(CurveCell cell, bool rejected)
    {
        switch (cell.Kind)
        {
            case CellKind.Reach:
                // As in the fair study: the comparator reaching it at least as often is no evidence for the claim, significant or not.
                if (cell.OnlyFop <= cell.OnlyOther) return Verdict.NotSupported;
                return rejected ? Verdict.Supported : Verdict.Undecided;
            case CellKind.TimeRatio:
                if (cell.Pairs < ClaimRules.MinPairs || double.IsNaN(cell.Lower)) return Verdict.Undecided;
                if (rejected) return cell.Upper < 1 ? Verdict.Supported : cell.Lower > 1 ? Verdict.NotSupported : Verdict.Undecided;
                return cell.Lower >= 1 / ClaimRules.RatioBand && cell.Upper <= ClaimRules.RatioBand ? Verdict.NotSupported : Verdict.Undecided;
            default:
                if (cell.Pairs < ClaimRules.MinPairs || double.IsNaN(cell.Lower)) return Verdict.Undecided;
                if (rejected) return cell.Lower > 0 ? Verdict.Supported : cell.Upper < 0 ? Verdict.NotSupported : Verdict.Undecided;
                return cell.Lower >= -ClaimRules.AccuracyBand && cell.Upper <= ClaimRules.AccuracyBand ? Verdict.NotSupported : Verdict.Undecided;
        }
    }
}
