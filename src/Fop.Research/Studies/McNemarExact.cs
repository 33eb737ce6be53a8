using MathNet.Numerics.Distributions;

namespace Fop.Research.Studies;

/// <summary>
/// The exact McNemar test for paired successes (two optimizers run with the same seeds: did each reach the target?). Only
/// the discordant pairs carry information; under no difference each is equally likely to favour either side, so the
/// smaller count is binomial(n, 1/2) with n the discordant pairs, and the two-sided p-value is twice its lower tail.
/// Unlike Fisher's exact test on the two success counts, it uses the pairing by seed.
/// </summary>
public static class McNemarExact
{
    /// <summary>Two-sided p-value for <paramref name="onlyFirst"/> pairs where only the first succeeded and <paramref name="onlySecond"/> where only the second did (1 without discordant pairs).</summary>
    public static double TwoSided(int onlyFirst, int onlySecond)
    {
        if (onlyFirst < 0 || onlySecond < 0) throw new ArgumentOutOfRangeException(nameof(onlyFirst), $"discordant counts {onlyFirst}, {onlySecond} must be >= 0.");
        int n = onlyFirst + onlySecond;
        if (n == 0) return 1;
        return Math.Min(1, 2 * Binomial.CDF(0.5, n, Math.Min(onlyFirst, onlySecond)));
    }
}
