using static TorchSharp.torch;

namespace Fop.Research.Optim;

/// <summary>
/// Adam's moments and bias-corrected direction as functions that return new tensors and change nothing, so that Shampoo's
/// grafting, SOAP's rotated Adam and Muon's AdamW half can propose a step and still refuse it. Same formulas as
/// <see cref="AdamWRule"/> (PyTorch's: eps added after the bias-corrected square root).
/// </summary>
internal static class AdamMoments
{
    /// <summary>beta * average + (1 - beta) * x; a missing average is zero.</summary>
    public static Tensor Ema(Tensor? average, Tensor x, double beta) => average is null ? x * (1 - beta) : average * beta + x * (1 - beta);

    /// <summary>average + x (AdaGrad's sum); a missing average is zero.</summary>
    public static Tensor Sum(Tensor? average, Tensor x) => average is null ? x.clone() : average + x;

    /// <summary>(m / c1) / (sqrt(v / c2) + eps), with c1 and c2 the bias corrections 1 - beta^t (1: none).</summary>
    public static Tensor Direction(Tensor m, Tensor v, double c1, double c2, double eps) => (m / c1) / ((v / c2).sqrt() + eps);

    /// <summary>The bias correction 1 - beta^<paramref name="step"/> (1-based step).</summary>
    public static double Correction(double beta, long step) => 1 - Math.Pow(beta, step);
}
