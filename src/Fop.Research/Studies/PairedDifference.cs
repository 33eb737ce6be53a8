using MathNet.Numerics.Distributions;
using MathNet.Numerics.Statistics;

namespace Fop.Research.Studies;

/// <summary>
/// The mean of paired differences with its two-sided 95% Student-t interval and the t-test's two-sided p-value against no
/// difference (MathNet's Student-t distribution; NaN interval and p below two values).
/// </summary>
public sealed record PairedDifference(double Mean, double Lower, double Upper, int Count, double P)
{
    /// <summary>No pairs.</summary>
    public static PairedDifference None { get; } = new(double.NaN, double.NaN, double.NaN, 0, double.NaN);

    /// <summary>The differences' mean, 95% interval and p-value (non-finite values are left out).</summary>
    public static PairedDifference Of(IEnumerable<double> differences)
    {
        var d = differences.Where(double.IsFinite).ToList();
        if (d.Count == 0) return None;
        double mean = d.Average();
        if (d.Count < 2) return new(mean, double.NaN, double.NaN, 1, double.NaN);
        double se = d.StandardDeviation() / Math.Sqrt(d.Count);
        int df = d.Count - 1;
        double half = ConfidenceInterval.TQuantile975(df) * se;
        // Identical differences have no spread: no difference at all is certain or impossible, nothing in between.
        double p = se == 0 ? (mean == 0 ? 1 : 0) : 2 * StudentT.CDF(0, 1, df, -Math.Abs(mean) / se);
        return new(mean, mean - half, mean + half, d.Count, p);
    }

    /// <summary>
    /// The same differences each shifted by a constant known only to lie in [<paramref name="low"/>, <paramref name="high"/>]
    /// (a log cost ratio measured as a range; <paramref name="at"/> its middle estimate): the mean shifted by
    /// <paramref name="at"/>, the interval widened to cover every shift, and the largest p-value over the shifts.
    /// </summary>
    public PairedDifference Shifted(double at, double low, double high)
    {
        if (!(low <= at && at <= high)) throw new ArgumentOutOfRangeException(nameof(at), at, $"the estimate must lie in [{low}, {high}].");
        if (Count == 0) return this;
        // |t| is smallest, so p largest, at the shift that brings the mean nearest 0: 0 itself when the range reaches it.
        double p = double.IsNaN(P) ? P : (Mean + low <= 0 && Mean + high >= 0) ? 1 : Math.Max(ShiftP(low), ShiftP(high));
        return new(Mean + at, Lower + low, Upper + high, Count, p);
    }

    double ShiftP(double shift)
    {
        if (Count < 2) return double.NaN;
        double se = (Upper - Lower) / 2 / ConfidenceInterval.TQuantile975(Count - 1);
        return se == 0 ? (Mean + shift == 0 ? 1 : 0) : 2 * StudentT.CDF(0, 1, Count - 1, -Math.Abs(Mean + shift) / se);
    }
}
