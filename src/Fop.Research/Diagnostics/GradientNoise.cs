using TorchSharp;
using static TorchSharp.torch;

namespace Fop.Research.Diagnostics;

/// <summary>
/// Gradient-noise statistics of one batch from the mean gradients g1, g2 of two disjoint parts of it (n1 and n2
/// examples). With G the true gradient and Sigma the per-example covariance: E[g1 . g2] = |G|^2 and
/// E|g1 - g2|^2 = tr Sigma (1/n1 + 1/n2), so both are unbiased; B = n1 + n2.
/// </summary>
/// <param name="GradientNormSq">|G|^2 estimate, &lt;g1, g2&gt; (can be negative when noise dominates).</param>
/// <param name="TraceSigma">tr Sigma estimate, |g1 - g2|^2 / (1/n1 + 1/n2) (= B/4 |g1 - g2|^2 for equal halves).</param>
/// <param name="Cosine">cos(g1, g2).</param>
/// <param name="NormTest">Byrd et al.'s norm test statistic: Var(g_B) / |g_B|^2 with Var(g_B) ~ |g1 - g2|^2 / 4 (equal halves).</param>
/// <param name="InnerProductTest">Bollapragada et al.'s inner-product test: the variance along g_B over |g_B|^2.</param>
/// <param name="OrthogonalityTest">Bollapragada et al.'s orthogonality test: the variance orthogonal to g_B over |g_B|^2 (the Euclidean twin of FOP's g_perp).</param>
/// <param name="BatchSize">B = n1 + n2.</param>
public sealed record NoiseEstimate(double GradientNormSq, double TraceSigma, double Cosine, double NormTest, double InnerProductTest, double OrthogonalityTest, long BatchSize)
{
    /// <summary>The simple noise scale B_simple = tr Sigma / |G|^2 (McCandlish et al. 2018) of this batch alone; over training, smooth numerator and denominator separately.</summary>
    public double SimpleNoiseScale => TraceSigma / GradientNormSq;

    /// <summary>The statistics from per-parameter gradients of the two parts (all parameters together, or one layer's).</summary>
    public static NoiseEstimate FromParts(IEnumerable<Tensor> g1, IEnumerable<Tensor> g2, long n1, long n2)
    {
        if (n1 < 1 || n2 < 1) throw new ArgumentOutOfRangeException(nameof(n1), $"both parts need examples ({n1}, {n2}).");
        double w1 = n1 / (double)(n1 + n2);
        double dot12 = 0, n11 = 0, n22 = 0, diffSq = 0, diffAlongAvg = 0, avgSq = 0;
        foreach (var (a, b) in g1.Zip(g2))
        {
            using var scope = torch.NewDisposeScope();
            var x = a.to_type(ScalarType.Float64);
            var y = b.to_type(ScalarType.Float64);
            var d = x - y;
            var avg = x * w1 + y * (1 - w1);
            // One host read for the six sums of this tensor.
            var sums = torch.stack([(x * y).sum(), x.square().sum(), y.square().sum(), d.square().sum(), (d * avg).sum(), avg.square().sum()]).data<double>().ToArray();
            dot12 += sums[0]; n11 += sums[1]; n22 += sums[2]; diffSq += sums[3]; diffAlongAvg += sums[4]; avgSq += sums[5];
        }
        double traceSigma = diffSq / (1.0 / n1 + 1.0 / n2);
        long batch = n1 + n2;
        // Var(g_B) = tr Sigma / B; its parts along and across g_B follow from the split of g1 - g2.
        double variance = traceSigma / batch;
        double alongShare = diffSq > 0 ? diffAlongAvg * diffAlongAvg / (avgSq * diffSq) : 0;
        return new NoiseEstimate(dot12, traceSigma, n11 > 0 && n22 > 0 ? dot12 / Math.Sqrt(n11 * n22) : double.NaN,
            variance / avgSq, variance * alongShare / avgSq, variance * (1 - alongShare) / avgSq, batch);
    }
}

/// <summary>Exponential smoothing of the noise scale's numerator and denominator separately (the ratio of smoothed values, never a smoothed ratio).</summary>
public sealed class NoiseScaleSmoother(double decay = 0.9)
{
    double trace, norm, weight;

    /// <summary>Adds one step's estimate; returns the smoothed B_simple.</summary>
    public double Add(NoiseEstimate e)
    {
        trace = decay * trace + (1 - decay) * e.TraceSigma;
        norm = decay * norm + (1 - decay) * e.GradientNormSq;
        weight = decay * weight + (1 - decay);
        return Value;
    }

    /// <summary>The smoothed B_simple so far (NaN before the first estimate).</summary>
    public double Value => weight == 0 ? double.NaN : trace / norm;
}

/// <summary>
/// Cockpit's alpha: where a step lands on the 1-D parabola of the loss along it. With the loss f0 before the step, and
/// the loss f1 and slope f1' = grad f(theta + Delta) . Delta after it, the parabola p(t) = f0 + b t + c t^2 through
/// p(0) = f0, p(1) = f1, p'(1) = f1' has its minimum at t* = -b / (2c); alpha = (1 - t*) / |t*| is -1 for a step that
/// went nowhere, 0 for one that landed on the minimum and 1 for one that overshot to the mirror point.
/// </summary>
public static class StepAlpha
{
    /// <summary>alpha from the three measurements; NaN when the parabola has no minimum (c &lt;= 0) or the inputs are not finite.</summary>
    public static double Compute(double f0, double f1, double slopeAfter)
    {
        double c = f0 - f1 + slopeAfter, b = slopeAfter - 2 * c;
        if (!(c > 0) || !double.IsFinite(b)) return double.NaN;
        double tStar = -b / (2 * c);
        return tStar == 0 ? double.NaN : (1 - tStar) / Math.Abs(tStar);
    }
}
