using Fop.Research.Curvature;
using TorchSharp;
using static TorchSharp.torch;

namespace Fop.Research.Optim;

/// <summary>The result of FOP for one layer: the (unscaled-by-lr) update direction eta F^-1 g_comb and its internals.</summary>
public sealed record LayerProjection(Tensor Update, FopLayerDiagnostics Diagnostics);

/// <summary>
/// FOP's per-layer math (fop-method.md §2), on layer matrices and a Kronecker preconditioner:
/// s = &lt;g_diff, F g_avg&gt; / &lt;g_avg, F g_avg&gt;, g_perp = g_diff - s g_avg, beta = D / E with
/// D = &lt;g_avg, F^-1 g_perp&gt; and E = &lt;g_perp, F^-1 g_perp&gt;, g_comb = g_avg + beta g_perp,
/// eta = &lt;g_t, F^-1 g_comb&gt; / &lt;g_comb, F^-1 g_comb&gt;, update = eta F^-1 g_comb.
/// </summary>
public static class FisherOrthogonalProjection
{
    /// <summary>E at or below this fraction of &lt;g_avg, F^-1 g_avg&gt; counts as zero (g1 == g2): beta = 0.</summary>
    public const double NegligibleOrthogonalEnergy = 1e-12;

    /// <summary>
    /// FOP for one layer from its two half-batch gradients; <paramref name="firstWeight"/> = n1 / n makes g_avg the full-batch
    /// mean when the halves differ in size (1/2 for equal halves); <paramref name="lr"/> only scales the KL diagnostics.
    /// </summary>
    public static LayerProjection Compute(string layer, Tensor g1, Tensor g2, KroneckerPreconditioner f, FopOptions o, bool diagnostics, double lr, double firstWeight = 0.5)
    {
        if (!(firstWeight > 0 && firstWeight < 1)) throw new ArgumentOutOfRangeException(nameof(firstWeight), firstWeight, "the first half's share of the batch must lie in (0, 1).");
        using var scope = torch.NewDisposeScope();
        var gAvg = g1 * firstWeight + g2 * (1 - firstWeight);
        var pAvg = f.Inverse(gAvg);                       // F^-1 g_avg, the KFAC direction
        double s = 0, beta = 0, perpRatio = double.NaN;
        Tensor? gPerp = null, pPerp = null;
        if (o.Projection)
        {
            var gDiff = g1 - g2;
            var fAvg = o.DampedProjection ? f.Multiply(gAvg) : f.MultiplyRaw(gAvg);
            double q = KroneckerPreconditioner.Dot(gAvg, fAvg);
            s = q > 0 ? KroneckerPreconditioner.Dot(gDiff, fAvg) / (q * (1 + o.Eps)) : 0;
            gPerp = gDiff - gAvg * s;
            pPerp = f.Inverse(gPerp);
            double d = KroneckerPreconditioner.Dot(gAvg, pPerp);
            double e = KroneckerPreconditioner.Dot(gPerp, pPerp);
            double a = KroneckerPreconditioner.Dot(gAvg, pAvg);
            beta = o.Beta == BetaRule.Fixed ? o.FixedBeta : (e > NegligibleOrthogonalEnergy * Math.Abs(a) ? d / e : 0);
            if (diagnostics && q > 0)
            {
                var fPerp = o.DampedProjection ? f.Multiply(gPerp) : f.MultiplyRaw(gPerp);
                perpRatio = Math.Sqrt(Math.Max(0, KroneckerPreconditioner.Dot(gPerp, fPerp)) / q);
            }
        }
        // F^-1 is linear: F^-1 g_comb = F^-1 g_avg + beta F^-1 g_perp, no third solve.
        var gComb = gPerp is null ? gAvg : gAvg + gPerp * beta;
        var pComb = pPerp is null ? pAvg : pAvg + pPerp * beta;
        double eta = 1.0;
        if (o.LayerScale && gPerp is null)
        {
            // Without the projection g_comb = g_avg, so eta = <g_t, F^-1 g_avg> / <g_avg, F^-1 g_avg> is 1 (or 2 for g_t = 2 g_avg) by algebra: make it exact.
            eta = o.EtaReference == EtaReference.Average ? 1.0 : 2.0;
            if (o.EtaMin is double lo) eta = Math.Max(lo, eta);
            if (o.EtaMax is double hi) eta = Math.Min(hi, eta);
        }
        else if (o.LayerScale)
        {
            // The literal g1 + g2 of eq. 8 is 2 g_avg for equal halves; 2 g_avg keeps it a multiple of the full-batch mean for unequal ones.
            var gT = o.EtaReference == EtaReference.Average ? gAvg : gAvg * 2;
            double den = KroneckerPreconditioner.Dot(gComb, pComb);
            eta = den > 0 ? KroneckerPreconditioner.Dot(gT, pComb) / den : 1.0;
            if (o.EtaMin is double lo) eta = Math.Max(lo, eta);
            if (o.EtaMax is double hi) eta = Math.Min(hi, eta);
        }
        var update = pComb * eta;

        double cos = double.NaN, klBase = double.NaN, klCross = double.NaN, klOrth = double.NaN;
        if (diagnostics)
        {
            double n1 = KroneckerPreconditioner.Dot(g1, g1), n2 = KroneckerPreconditioner.Dot(g2, g2);
            cos = n1 > 0 && n2 > 0 ? KroneckerPreconditioner.Dot(g1, g2) / Math.Sqrt(n1 * n2) : double.NaN;
            // KL(p_theta+Delta || p_theta) ~ 1/2 Delta^T F Delta with Delta = -lr eta M^-1 (g + beta g_perp), Q = M^-1 F M^-1.
            double scale = lr * lr * eta * eta;
            var fpAvg = f.MultiplyRaw(pAvg);
            klBase = scale * KroneckerPreconditioner.Dot(pAvg, fpAvg);
            if (pPerp is not null)
            {
                klCross = scale * 2 * beta * KroneckerPreconditioner.Dot(pPerp, fpAvg);
                klOrth = scale * beta * beta * KroneckerPreconditioner.Dot(pPerp, f.MultiplyRaw(pPerp));
            }
            else klCross = klOrth = 0;
        }
        return new LayerProjection(update.MoveToOuterDisposeScope(), new FopLayerDiagnostics(layer, s, beta, eta, cos, perpRatio, klBase, klCross, klOrth));
    }
}
