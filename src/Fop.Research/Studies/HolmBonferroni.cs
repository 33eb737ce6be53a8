namespace Fop.Research.Studies;

/// <summary>One hypothesis of a family after Holm's step-down: its p-value, the Holm-adjusted p-value, and whether it is rejected at the family's level.</summary>
public sealed record HolmDecision(double P, double Adjusted, bool Rejected);

/// <summary>
/// Holm-Bonferroni step-down control of the family-wise error rate: the k-th smallest of m p-values is compared with
/// alpha / (m - k + 1), and rejection stops at the first that fails. Adjusted p-values are max over j &lt;= k of
/// min(1, (m - j + 1) p_(j)), so a hypothesis is rejected exactly when its adjusted p-value is at most alpha.
/// </summary>
public static class HolmBonferroni
{
    /// <summary>The decisions for <paramref name="pValues"/>, in their order; a NaN p-value (a test that could not be made) counts as 1.</summary>
    public static IReadOnlyList<HolmDecision> Adjust(IReadOnlyList<double> pValues, double alpha = 0.05)
    {
        if (!(alpha > 0 && alpha < 1)) throw new ArgumentOutOfRangeException(nameof(alpha), alpha, "alpha must lie in (0, 1).");
        int m = pValues.Count;
        var p = pValues.Select(v => double.IsNaN(v) ? 1 : v).ToArray();
        if (p.Any(v => v < 0 || v > 1)) throw new ArgumentOutOfRangeException(nameof(pValues), "p-values must lie in [0, 1].");
        // Ties keep their input order, so the result does not depend on how a sort breaks them.
        var order = Enumerable.Range(0, m).OrderBy(i => p[i]).ThenBy(i => i).ToArray();
        var adjusted = new double[m];
        double running = 0;
        for (int k = 0; k < m; k++)
        {
            running = Math.Max(running, Math.Min(1, (m - k) * p[order[k]]));
            adjusted[order[k]] = running;
        }
        return Enumerable.Range(0, m).Select(i => new HolmDecision(pValues[i], adjusted[i], adjusted[i] <= alpha)).ToList();
    }
}
