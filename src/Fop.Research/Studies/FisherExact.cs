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
        int successes = a + b, n = n1 + n2;
        double P(int x) => Math.Exp(LogChoose(n1, x) + LogChoose(n2, successes - x) - LogChoose(n, successes));
        double observed = P(a);
        double p = 0;
        for (int x = Math.Max(0, successes - n2); x <= Math.Min(successes, n1); x++)
        {
            double px = P(x);
            // Tables as likely as the observed one count, up to rounding in the log-factorials.
            if (px <= observed * (1 + 1e-7)) p += px;
        }
        return Math.Min(1, p);
    }

    static double LogChoose(int n, int k)
    {
        double s = 0;
        for (int i = 1; i <= k; i++) s += Math.Log(n - k + i) - Math.Log(i);
        return s;
    }
}
