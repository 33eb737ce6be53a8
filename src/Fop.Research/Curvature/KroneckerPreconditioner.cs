using TorchSharp;
using static TorchSharp.torch;

namespace Fop.Research.Curvature;

/// <summary>How damping lambda enters the Kronecker-factored Fisher.</summary>
public enum DampingForm
{
    /// <summary>Tikhonov split between the factors: (A + pi sqrt(lambda) I) (x) (G + sqrt(lambda)/pi I), pi = sqrt((tr A/dim A)/(tr G/dim G)) (ASDL, Martens-Grosse).</summary>
    PiSplit,
    /// <summary>Exact damping in the Kronecker eigenbasis: Q_G [(Q_G^T V Q_A) / (d_G d_A^T + lambda)] Q_A^T (kfac-pytorch).</summary>
    Eigen,
}

/// <summary>
/// A layer's damped Fisher block frozen at an inverse step: products with F (damped and raw) and with the damped inverse,
/// all on layer matrices V of shape (Out, InDim). F vec(V) = vec(G V A) in the column-major vec convention.
/// </summary>
public abstract class KroneckerPreconditioner : IDisposable
{
    /// <summary>F_damped^-1 V.</summary>
    public abstract Tensor Inverse(Tensor v);
    /// <summary>F_damped V.</summary>
    public abstract Tensor Multiply(Tensor v);
    /// <summary>F_raw V = G V A (no damping).</summary>
    public abstract Tensor MultiplyRaw(Tensor v);
    /// <summary>The damped block as a dense (Out*InDim)^2 matrix (for tests; small layers only).</summary>
    public abstract Tensor ToDense();
    /// <summary>The damping lambda this preconditioner was built with.</summary>
    public double Damping { get; protected init; }
    /// <summary>The factor A this preconditioner was built from (a copy).</summary>
    public Tensor SourceA { get; private set; } = null!;
    /// <summary>The factor G this preconditioner was built from (a copy).</summary>
    public Tensor SourceG { get; private set; } = null!;
    /// <summary>Whether it was computed in float64 after a float32 failure.</summary>
    public bool UsedFloat64Retry { get; protected init; }

    /// <inheritdoc />
    public void Dispose()
    {
        SourceA?.Dispose();
        SourceG?.Dispose();
        DisposeTensors();
    }

    /// <summary>Disposes the implementation's tensors.</summary>
    protected abstract void DisposeTensors();

    /// <summary>The undamped factors A and G when the form keeps copies of its own (null: it keeps none).</summary>
    private protected virtual (Tensor A, Tensor G)? KeptFactors => null;

    /// <summary>
    /// Builds the preconditioner from factors A and G. A failed decomposition (non-finite or indefinite factor) is retried
    /// in float64; if that fails too, an <see cref="CurvatureException"/> is thrown and the caller keeps its previous preconditioner.
    /// </summary>
    public static KroneckerPreconditioner Build(DampingForm form, Tensor a, Tensor g, double damping, string layerName)
    {
        if (!(damping > 0) || double.IsInfinity(damping)) throw new ArgumentOutOfRangeException(nameof(damping), damping, "Damping must be positive and finite.");
        if (!AllFinite(a) || !AllFinite(g)) throw new CurvatureException($"{layerName}: Kronecker factor is not finite.");
        var built = BuildUnchecked(form, a, g, damping, layerName);
        // A form that keeps its own copies of the factors shares them (same values): a factor-sized matrix each saved per layer.
        (built.SourceA, built.SourceG) = built.KeptFactors is { } kept
            ? (kept.A.alias().DetachFromDisposeScope(), kept.G.alias().DetachFromDisposeScope())
            : (a.detach().clone().DetachFromDisposeScope(), g.detach().clone().DetachFromDisposeScope());
        return built;
    }

    static KroneckerPreconditioner BuildUnchecked(DampingForm form, Tensor a, Tensor g, double damping, string layerName)
    {
        try
        {
            return Create(form, a, g, damping, retried: false);
        }
        catch (Exception e) when (e is CurvatureException or System.Runtime.InteropServices.ExternalException)
        {
            if (a.dtype == ScalarType.Float64) throw new CurvatureException($"{layerName}: decomposition failed in float64 ({e.Message}).", e);
            try
            {
                using var a64 = a.to_type(ScalarType.Float64);
                using var g64 = g.to_type(ScalarType.Float64);
                return Create(form, a64, g64, damping, retried: true).CastTo(a.dtype);
            }
            catch (Exception e2) when (e2 is CurvatureException or System.Runtime.InteropServices.ExternalException)
            {
                throw new CurvatureException($"{layerName}: decomposition failed in float32 and float64 ({e2.Message}).", e2);
            }
        }
    }

    static KroneckerPreconditioner Create(DampingForm form, Tensor a, Tensor g, double damping, bool retried) => form switch
    {
        DampingForm.PiSplit => new PiSplitPreconditioner(a, g, damping, retried),
        DampingForm.Eigen => new EigenPreconditioner(a, g, damping, retried),
        _ => throw new ArgumentOutOfRangeException(nameof(form)),
    };

    /// <summary>A copy whose tensors have dtype <paramref name="dtype"/>.</summary>
    protected abstract KroneckerPreconditioner CastTo(ScalarType dtype);

    internal static bool AllFinite(Tensor t)
    {
        using var f = t.isfinite().all();
        return Devices.HostReads.Scalar(f) != 0;
    }

    /// <summary>Throws a <see cref="CurvatureException"/> when any tensor is not finite.</summary>
    protected static void RequireFinite(string what, params Tensor[] tensors)
    {
        if (!tensors.All(AllFinite)) throw new CurvatureException($"{what} is not finite.");
    }

    /// <summary>Inner product &lt;u, v&gt; = sum(u * v) as a double (one read to the host).</summary>
    public static double Dot(Tensor u, Tensor v)
    {
        using var p = DotTensor(u, v);
        return Devices.HostReads.Scalar(p);
    }

    /// <summary>Inner product &lt;u, v&gt; = sum(u * v) as a float64 0-dimensional tensor on the device (no read).</summary>
    public static Tensor DotTensor(Tensor u, Tensor v)
    {
        var p = (u * v).sum();
        // to_type to the same dtype hands back the same tensor: dispose the float32 sum only when a copy was made.
        if (p.dtype == ScalarType.Float64) return p;
        using (p) return p.to_type(ScalarType.Float64);
    }
}

/// <summary>A curvature matrix could not be decomposed.</summary>
public sealed class CurvatureException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>Tikhonov damping split between the factors by pi; inverses by Cholesky.</summary>
internal sealed class PiSplitPreconditioner : KroneckerPreconditioner
{
    readonly Tensor a, g, aDamped, gDamped, aInverse, gInverse;

    public PiSplitPreconditioner(Tensor a, Tensor g, double damping, bool retried)
    {
        using var scope = torch.NewDisposeScope();
        Damping = damping;
        UsedFloat64Retry = retried;
        var traces = Devices.HostReads.Scalars(a.trace(), g.trace());
        double trA = traces[0] / a.shape[0];
        double trG = traces[1] / g.shape[0];
        double pi = trA > 0 && trG > 0 ? Math.Sqrt(trA / trG) : 1.0;
        double sqrtDamping = Math.Sqrt(damping);
        this.a = a.clone();
        this.g = g.clone();
        aDamped = a + torch.eye(a.shape[0], dtype: a.dtype, device: a.device) * (pi * sqrtDamping);
        gDamped = g + torch.eye(g.shape[0], dtype: g.dtype, device: g.device) * (sqrtDamping / pi);
        // libtorch reads each factorisation's info code back to raise on failure: two waits per factor on a GPU, counted.
        Devices.DeviceSyncs.Note(Devices.SyncKind.LinalgCheck, 4);
        aInverse = torch.cholesky_inverse(torch.linalg.cholesky(aDamped));
        gInverse = torch.cholesky_inverse(torch.linalg.cholesky(gDamped));
        RequireFinite("Damped factor inverse", aInverse, gInverse);
        foreach (var t in new[] { this.a, this.g, aDamped, gDamped, aInverse, gInverse }) t.MoveToOuterDisposeScope();
        foreach (var t in new[] { this.a, this.g, aDamped, gDamped, aInverse, gInverse }) t.DetachFromDisposeScope();
    }

    PiSplitPreconditioner(Tensor[] t, double damping, bool retried)
    {
        (a, g, aDamped, gDamped, aInverse, gInverse) = (t[0], t[1], t[2], t[3], t[4], t[5]);
        Damping = damping;
        UsedFloat64Retry = retried;
    }

    public override Tensor Inverse(Tensor v) { using var t = gInverse.mm(v); return t.mm(aInverse); }
    public override Tensor Multiply(Tensor v) { using var t = gDamped.mm(v); return t.mm(aDamped); }
    public override Tensor MultiplyRaw(Tensor v) { using var t = g.mm(v); return t.mm(a); }
    public override Tensor ToDense() => torch.kron(aDamped, gDamped);

    private protected override (Tensor A, Tensor G)? KeptFactors => (a, g);

    protected override KroneckerPreconditioner CastTo(ScalarType dtype)
    {
        var cast = new[] { a, g, aDamped, gDamped, aInverse, gInverse }.Select(t => t.to_type(dtype).DetachFromDisposeScope()).ToArray();
        DisposeTensors();
        return new PiSplitPreconditioner(cast, Damping, UsedFloat64Retry);
    }

    protected override void DisposeTensors()
    {
        foreach (var t in new[] { a, g, aDamped, gDamped, aInverse, gInverse }) t.Dispose();
    }
}

/// <summary>Damping added in the Kronecker eigenbasis (one eigendecomposition per factor).</summary>
internal sealed class EigenPreconditioner : KroneckerPreconditioner
{
    readonly Tensor qa, da, qg, dg, scale;

    public EigenPreconditioner(Tensor a, Tensor g, double damping, bool retried)
    {
        using var scope = torch.NewDisposeScope();
        Damping = damping;
        UsedFloat64Retry = retried;
        Devices.DeviceSyncs.Note(Devices.SyncKind.LinalgCheck, 2);            // eigh reads its convergence info back
        var (ea, va) = torch.linalg.eigh(a);
        var (eg, vg) = torch.linalg.eigh(g);
        RequireFinite("Factor eigendecomposition", ea, va, eg, vg);
        // Round-off can make tiny eigenvalues of a PSD factor negative; they are clamped to 0.
        da = ea.clamp_min(0).DetachFromDisposeScope();
        dg = eg.clamp_min(0).DetachFromDisposeScope();
        qa = va.DetachFromDisposeScope();
        qg = vg.DetachFromDisposeScope();
        scale = (dg.unsqueeze(1) * da.unsqueeze(0) + damping).DetachFromDisposeScope();
    }

    EigenPreconditioner(Tensor[] t, double damping, bool retried)
    {
        (qa, da, qg, dg, scale) = (t[0], t[1], t[2], t[3], t[4]);
        Damping = damping;
        UsedFloat64Retry = retried;
    }

    Tensor InBasis(Tensor v, Func<Tensor, Tensor> scaleInBasis)
    {
        using var scope = torch.NewDisposeScope();
        var inner = qg.t().mm(v).mm(qa);
        return qg.mm(scaleInBasis(inner)).mm(qa.t()).MoveToOuterDisposeScope();
    }

    public override Tensor Inverse(Tensor v) => InBasis(v, x => x / scale);
    public override Tensor Multiply(Tensor v) => InBasis(v, x => x * scale);
    public override Tensor MultiplyRaw(Tensor v) => InBasis(v, x => x * (dg.unsqueeze(1) * da.unsqueeze(0)));

    public override Tensor ToDense()
    {
        using var scope = torch.NewDisposeScope();
        var q = torch.kron(qa, qg);
        // vec order is column-major: entry (i, j) of the (Out, In) scale sits at j*Out + i.
        var d = scale.t().reshape(-1);
        return (q * d.unsqueeze(0)).mm(q.t()).MoveToOuterDisposeScope();
    }

    protected override KroneckerPreconditioner CastTo(ScalarType dtype)
    {
        var cast = new[] { qa, da, qg, dg, scale }.Select(t => t.to_type(dtype).DetachFromDisposeScope()).ToArray();
        DisposeTensors();
        return new EigenPreconditioner(cast, Damping, UsedFloat64Retry);
    }

    protected override void DisposeTensors()
    {
        foreach (var t in new[] { qa, da, qg, dg, scale }) t.Dispose();
    }
}
