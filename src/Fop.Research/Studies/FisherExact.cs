using MathNet.Numerics.Distributions;

namespace Fop.Research.Studies;

/// <summary>
/// Fisher's exact test on a 2x2 table of counts (how many seeds of two variants reached a target): the two-sided p-value,
/// the total probability under the hypergeometric null of every table with the same margins at most as likely as the one seen.
/// </summary>
public static class FisherExact
{
    /// <summary>Two-sided p-value for <paramref name="a"/> successes of <paramref name="n1"/> against <paramref name="b"/> of <paramref name="n2"/>.</summary>
    public static double TwoSided(int a, int n1, int b, int n2)
    {
        if (n1 < 0 || n2 < 0 || a < 0 || b < 0 || a > n1 || b > n2) throw new ArgumentOutOfRangeException(nameof(a), $"counts {a}/{n1}, {b}/{n2} are not successes out of trials.");
        // The number of successes in the first group is hypergeometric given the margins (MathNet.Numerics).
        var table = new Hypergeometric(n1 + n2, a + b, n1);
        double observed = table.Probability(a);
        double p = 0;
        for (int x = table.Minimum; x <= table.Maximum; x++)
        {
            double px = table.Probability(x);
            // Tables as likely as the observed one count, up to rounding.
            if (px <= observed * (1 + 1e-7)) p += px;
        }
        return Math.Min(1, p);
    }
}
