using TorchSharp;
using static TorchSharp.torch;
using Fop.Research.Devices;

namespace Fop.Research.Optim;

/// <summary>
/// Inverse roots and eigenbases of symmetric positive semi-definite matrices (Shampoo's and SOAP's factors), through
/// <c>torch.linalg.eigh</c> in float64 whatever the factor's dtype. Why float64: a factor's eigenvalues span many decades
/// (epsilon is 1e-12 of them), the inverse root is dominated by the smallest ones, and float32's 1e-7 relative
/// round-off turns those into noise or into negative values whose -1/p power is NaN; float32 eigh on CUDA is also known
/// to be unstable on the low-rank matrices early steps produce (Distributed Shampoo's README). The result is cast back.
/// </summary>
public static class SymmetricMatrixFunctions
{
    /// <summary>
    /// (A + eps I)^(-1/<paramref name="root"/>) as Distributed Shampoo computes it: eigenvalues shifted up by the most
    /// negative one (round-off can make a PSD matrix indefinite), then eps added, then the power.
    /// </summary>
    public static Tensor InverseRoot(Tensor a, int root, double eps)
    {
        if (root < 1) throw new ArgumentOutOfRangeException(nameof(root), root, "root must be >= 1.");
        using var scope = torch.NewDisposeScope();
        DeviceSyncs.Note(SyncKind.LinalgCheck);                            // eigh reads its convergence info back
        var (values, vectors) = torch.linalg.eigh(a.to_type(ScalarType.Float64));
        var shifted = values - values.min().clamp_max(0) + eps;
        var x = (vectors * shifted.pow(-1.0 / root).unsqueeze(0)).mm(vectors.t());
        return x.to_type(a.dtype).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The orthonormal eigenvectors of symmetric PSD A as columns, largest eigenvalue first (SOAP's order). The numerical
    /// null space (eigenvalues at most n * eps(A's dtype) * the largest, torch.linalg.matrix_rank's tolerance) has no
    /// preferred basis, and SOAP's per-coordinate Adam is not rotation invariant, so the solver's arbitrary choice there
    /// would make the step depend on round-off (micro-batching, device). Those columns are replaced by a canonical basis:
    /// the eigenvectors of P D P, P the null-space projector and D = diag(1..n). A second eigh, on the device, no read;
    /// <paramref name="canonicalNullBasis"/> false skips it and keeps the solver's choice.
    /// </summary>
    public static Tensor Eigenbasis(Tensor a, bool canonicalNullBasis = true)
    {
        using var scope = torch.NewDisposeScope();
        long n = a.shape[0];
        DeviceSyncs.Note(SyncKind.LinalgCheck);                            // eigh reads its convergence info back
        var (values, vectors) = torch.linalg.eigh(a.to_type(ScalarType.Float64));
        values = values.flip(0);
        vectors = vectors.flip(1);
        if (!canonicalNullBasis) return vectors.to_type(a.dtype).MoveToOuterDisposeScope();
        double resolution = a.dtype == ScalarType.Float64 ? 2.220446049250313e-16 : a.dtype == ScalarType.Float32 ? 1.1920929e-07 : 9.765625e-04;
        var isNull = values <= values.abs().max() * (n * resolution);
        var nullVectors = vectors * isNull.to_type(ScalarType.Float64).unsqueeze(0);
        var projector = nullVectors.mm(nullVectors.t());
        var ramp = torch.arange(1, n + 1, dtype: ScalarType.Float64, device: a.device);
        // Ascending: P D P's zero eigenvalues (the range) come first, its positive ones (the null space) last, where the null columns are.
        DeviceSyncs.Note(SyncKind.LinalgCheck);
        var (_, canonical) = torch.linalg.eigh((projector * ramp.unsqueeze(0)).mm(projector));
        var basis = torch.where(isNull.unsqueeze(0), canonical, vectors);
        return basis.to_type(a.dtype).MoveToOuterDisposeScope();
    }
}
