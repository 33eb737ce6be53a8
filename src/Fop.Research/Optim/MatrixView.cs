using static TorchSharp.torch;

namespace Fop.Research.Optim;

/// <summary>
/// How Shampoo, SOAP and Muon see a parameter: a weight of two or more dimensions is the matrix (rows = its first
/// dimension, columns = the rest), so a conv kernel (out, in, kh, kw) is the matrix (out, in*kh*kw); a bias, a norm
/// gain or any other 1-D parameter is a vector and gets the method's diagonal rule.
/// </summary>
public static class MatrixView
{
    /// <summary>True when <paramref name="parameter"/> is treated as a matrix (two or more dimensions).</summary>
    public static bool IsMatrix(Tensor parameter) => parameter.dim() >= 2;

    /// <summary>The (rows, columns) matrix view of a tensor of two or more dimensions (a view where the layout allows).</summary>
    public static Tensor Of(Tensor t) => t.reshape(t.shape[0], -1);
}
