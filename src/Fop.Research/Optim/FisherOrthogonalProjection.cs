using Fop.Research.Curvature;
using TorchSharp;
using static TorchSharp.torch;
using Fop.Research.Devices;

namespace Fop.Research.Optim;

/// <summary>
/// The result of FOP for one layer: the (unscaled-by-lr) update direction eta F^-1 g_comb, and s, beta and eta as
/// float64 device scalars. Nothing is read to the host until <see cref="Diagnostics"/> is asked for.
/// </summary>
public sealed class LayerProjection
{
    readonly string layer;
    readonly Tensor? extras;
    FopLayerDiagnostics? read;

    internal LayerProjection(string layer, Tensor update, Tensor s, Tensor beta, Tensor eta, Tensor? extras)
    {
        this.layer = layer;
        Update = update;
        S = s;
        Beta = beta;
        Eta = eta;
        this.extras = extras;
    }

    /// <summary>The direction eta F^-1 (g_avg + beta g_perp), shaped like the layer matrix.</summary>
    public Tensor Update { get; }
    /// <summary>The projection coefficient s (0-dimensional, float64, on the device).</summary>
    public Tensor S { get; }
    /// <summary>beta (0-dimensional, float64, on the device).</summary>
    public Tensor Beta { get; }
    /// <summary>eta (0-dimensional, float64, on the device).</summary>
    public Tensor Eta { get; }

    /// <summary>s, beta, eta and, when computed, the Fisher-norm and KL diagnostics, read to the host (one read, made once).</summary>
    public FopLayerDiagnostics Diagnostics => read ??= ReadAll([this])[0];

    /// <summary>The diagnostics of several layers in one read.</summary>
    public static IReadOnlyList<FopLayerDiagnostics> ReadAll(IReadOnlyList<LayerProjection> layers)
    {
        using var scope = torch.NewDisposeScope();
        var nan = HostReads.Constant(double.NaN, layers[0].S.device);
        var rows = layers.Select(l => torch.cat([torch.stack([l.S, l.Beta, l.Eta]), l.extras ?? nan.expand(5)])).ToArray();
        var values = HostReads.Doubles(torch.stack(rows));
        var result = new List<FopLayerDiagnostics>(layers.Count);
        for (int i = 0; i < layers.Count; i++)
        {
            var v = values.AsSpan(8 * i, 8);
            var d = new FopLayerDiagnostics(layers[i].layer, v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7]);
            layers[i].read = d;
            result.Add(d);
        }
        return result;
    }
}

/// <summary>
/// FOP's per-layer math (fop-method.md §2), on layer matrices and a Kronecker preconditioner:
/// s = &lt;g_diff, F g_avg&gt; / &lt;g_avg, F g_avg&gt;, g_perp = g_diff - s g_avg, beta = D / E with
/// D = &lt;g_avg, F^-1 g_perp&gt; and E = &lt;g_perp, F^-1 g_perp&gt;, g_comb = g_avg + beta g_perp,
/// eta = &lt;g_t, F^-1 g_comb&gt; / &lt;g_comb, F^-1 g_comb&gt;, update = eta F^-1 g_comb.
/// Every scalar stays a device tensor: the step reads nothing back to the host here.
/// </summary>
public static class FisherOrthogonalProjection
{
    /// <summary>E at or below this fraction of &lt;g_avg, F^-1 g_avg&gt; counts as zero (g1 == g2): beta = 0.</summary>
    public const double NegligibleOrthogonalEnergy = 1e-12;

    /// <summary>
    /// FOP for one layer from its two half-batch gradients; <paramref name="firstWeight"/> = n1 / n makes g_avg the full-batch
    /// mean when the halves differ in size (1/2 for equal halves); <paramref name="lr"/> only scales the KL diagnostics,
    /// which (with cos(g1, g2) and |g_perp|_F / |g_avg|_F) are computed only when <paramref name="diagnostics"/> is set.
    /// </summary>
    public static LayerProjection Compute(string layer, Tensor g1, Tensor g2, KroneckerPreconditioner f, FopOptions o, bool diagnostics, double lr, double firstWeight = 0.5)
    {
        if (!(firstWeight > 0 && firstWeight < 1)) throw new ArgumentOutOfRangeException(nameof(firstWeight), firstWeight, "the first half's share of the batch must lie in (0, 1).");
        using var scope = torch.NewDisposeScope();
        var device = g1.device;
        Tensor Scalar(double v) => HostReads.Constant(v, device);
        Tensor Dot(Tensor u, Tensor v) => KroneckerPreconditioner.DotTensor(u, v);
        // Where the denominator is not positive the quotient is replaced; the division itself may give inf/NaN there, unused.
        Tensor Ratio(Tensor num, Tensor den, Tensor condition, double otherwise) => torch.where(condition, num / den, Scalar(otherwise));

        var gAvg = g1 * firstWeight + g2 * (1 - firstWeight);
        var pAvg = f.Inverse(gAvg);                       // F^-1 g_avg, the KFAC direction
        Tensor s = Scalar(0), beta = Scalar(0);
        Tensor? gPerp = null, pPerp = null, q = null;
        if (o.Projection)
        {
            var gDiff = g1 - g2;
            var fAvg = o.DampedProjection ? f.Multiply(gAvg) : f.MultiplyRaw(gAvg);
            q = Dot(gAvg, fAvg);
            s = Ratio(Dot(gDiff, fAvg), q * (1 + o.Eps), q > 0, 0);
            gPerp = gDiff - gAvg * s.to_type(gAvg.dtype);
            pPerp = f.Inverse(gPerp);
            var e = Dot(gPerp, pPerp);
            beta = o.Beta == BetaRule.Fixed ? Scalar(o.FixedBeta)
                : Ratio(Dot(gAvg, pPerp), e, e > Dot(gAvg, pAvg).abs() * NegligibleOrthogonalEnergy, 0);
        }
        // F^-1 is linear: F^-1 g_comb = F^-1 g_avg + beta F^-1 g_perp, no third solve.
        var gComb = gPerp is null ? gAvg : gAvg + gPerp * beta.to_type(gAvg.dtype);
        var pComb = pPerp is null ? pAvg : pAvg + pPerp * beta.to_type(gAvg.dtype);
        Tensor eta;
        if (!o.LayerScale) eta = Scalar(1);
        // Without the projection g_comb = g_avg, so eta = <g_t, F^-1 g_avg> / <g_avg, F^-1 g_avg> is 1 (or 2 for g_t = 2 g_avg) by algebra: make it exact.
        else if (gPerp is null) eta = Clamp(Scalar(o.EtaReference == EtaReference.Average ? 1.0 : 2.0), o);
        else
        {
            // The literal g1 + g2 of eq. 8 is 2 g_avg for equal halves; 2 g_avg keeps it a multiple of the full-batch mean for unequal ones.
            var gT = o.EtaReference == EtaReference.Average ? gAvg : gAvg * 2;
            var den = Dot(gComb, pComb);
            eta = Clamp(Ratio(Dot(gT, pComb), den, den > 0, 1), o);
        }
        var update = pComb * eta.to_type(pComb.dtype);

        Tensor? extras = null;
        if (diagnostics)
        {
            var n1 = Dot(g1, g1);
            var n2 = Dot(g2, g2);
            var cos = Ratio(Dot(g1, g2), (n1 * n2).sqrt(), (n1 > 0).logical_and(n2 > 0), double.NaN);
            var perpRatio = q is null || gPerp is null ? Scalar(double.NaN)
                : Ratio(Dot(gPerp, o.DampedProjection ? f.Multiply(gPerp) : f.MultiplyRaw(gPerp)).clamp_min(0), q, q > 0, double.NaN).sqrt();
            // KL(p_theta+Delta || p_theta) ~ 1/2 Delta^T F Delta with Delta = -lr eta M^-1 (g + beta g_perp), Q = M^-1 F M^-1.
            var scale = eta * eta * (lr * lr);
            var fpAvg = f.MultiplyRaw(pAvg);
            var klBase = scale * Dot(pAvg, fpAvg);
            Tensor klCross = Scalar(0), klOrth = Scalar(0);
            if (pPerp is not null)
            {
                klCross = scale * 2 * beta * Dot(pPerp, fpAvg);
                klOrth = scale * beta * beta * Dot(pPerp, f.MultiplyRaw(pPerp));
            }
            extras = torch.stack([cos, perpRatio, klBase, klCross, klOrth]).MoveToOuterDisposeScope();
        }
        return new LayerProjection(layer, update.MoveToOuterDisposeScope(), s.MoveToOuterDisposeScope(), beta.MoveToOuterDisposeScope(), eta.MoveToOuterDisposeScope(), extras);
    }

    static Tensor Clamp(Tensor eta, FopOptions o) =>
        o.EtaMin is null && o.EtaMax is null ? eta : eta.clamp(o.EtaMin is double lo ? lo : null, o.EtaMax is double hi ? hi : null);
}
