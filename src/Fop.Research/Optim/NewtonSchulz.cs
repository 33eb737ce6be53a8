using TorchSharp;
using static TorchSharp.torch;

namespace Fop.Research.Optim;

/// <summary>
/// Muon's orthogonalisation (Jordan et al. 2024): a few steps of the quintic Newton-Schulz iteration
/// X &lt;- a X + (b A + c A^2) X, A = X X^T, from X = G / (|G|_F + 1e-7), with the reference coefficients. They are tuned
/// for speed, not convergence: the result is U S' V^T for G = U S V^T, with S' scattered around 1 (roughly 0.7 to 1.2
/// for singular values not far below the largest), an approximation of the polar factor U V^T. Runs in G's dtype (the
/// reference uses bfloat16).
/// </summary>
public static class NewtonSchulz
{
    /// <summary>The reference coefficients (a, b, c).</summary>
    public static (double A, double B, double C) Coefficients { get; } = (3.4445, -4.7750, 2.0315);

    /// <summary>The approximate orthogonalisation of matrix <paramref name="g"/> after <paramref name="steps"/> iterations (a wide copy is iterated, as in the reference).</summary>
    public static Tensor Orthogonalize(Tensor g, int steps)
    {
        if (g.dim() != 2) throw new ArgumentException($"Newton-Schulz needs a matrix, not a tensor of {g.dim()} dimensions.", nameof(g));
        var (a, b, c) = Coefficients;
        using var scope = torch.NewDisposeScope();
        bool tall = g.shape[0] > g.shape[1];
        var x = tall ? g.t() : g;
        x = x / (x.norm() + 1e-7);
        for (int k = 0; k < steps; k++)
        {
            var gram = x.mm(x.t());
            x = x * a + (gram * b + gram.mm(gram) * c).mm(x);
        }
        return (tall ? x.t() : x).contiguous().MoveToOuterDisposeScope();
    }
}
