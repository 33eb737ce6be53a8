namespace Fop.Research.Studies;

/// <summary>What a claim cell of the curves study estimates.</summary>
public enum CellKind
{
    /// <summary>FOP's time to a target over the comparator's (geometric mean over pairs; below 1: FOP faster).</summary>
    TimeRatio,
    /// <summary>FOP's best validation accuracy minus the comparator's, in points.</summary>
    AccuracyDifference,
    /// <summary>Pairs where only FOP reached a target against pairs where only the comparator did.</summary>
    Reach,
}

/// <summary>
/// One claim cell of the curves study: FOP against a comparator on one base config and metric. <see cref="Basis"/> says how
/// runs were paired: "cross-fitted" (each optimizer at the rate the other seeds chose, paired by held-out seed) or "matched
/// rates" (both at the same rate, paired by rate and seed). Estimate and interval are a time ratio (cost range included),
/// a difference in points, or the discordant-pair difference (no interval); P is the test's two-sided p-value.
/// </summary>
public sealed record CurveCell(string Config, string Against, string Basis, CurveMetric Metric, CellKind Kind, int Pairs, int OnlyFop, int OnlyOther,
    double Estimate, double Lower, double Upper, double P, CostRatio? Cost)
{
    /// <summary>The cell's name in reports.</summary>
    public string Key => $"{Config}: FOP vs {Against}, {Basis}, {(Kind == CellKind.Reach ? "reaching " + Metric.Name.Replace("steps to ", "") : Kind == CellKind.TimeRatio ? "time to " + Metric.Name.Replace("steps to ", "") : Metric.Name)}";
}
