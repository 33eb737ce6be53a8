namespace Fop.Research.Optim;

/// <summary>
/// SOAP (Vyas et al. 2024, "SOAP: Improving and Stabilizing Shampoo using Adam"): Adam run in the eigenbasis of Shampoo's
/// factors. Per weight matrix G (a conv kernel as (out, in*kh*kw), see <see cref="MatrixView"/>): L = EMA(G G^T) and
/// R = EMA(G^T G) with decay <see cref="ShampooBeta"/>; their eigenvectors Q_L, Q_R are recomputed every
/// <see cref="PreconditionFrequency"/> steps; Adam's second moment lives in the rotated space Q_L^T G Q_R, and the update
/// is rotated back. A side longer than <see cref="MaxPreconditionerDim"/> is not rotated (the reference's rule), and 1-D
/// parameters run plain Adam. Validated by <see cref="Validate"/>, which the optimizer calls at construction.
/// </summary>
public sealed record SoapOptions
{
    /// <summary>Adam's first-moment decay.</summary>
    public double Beta1 { get; init; } = 0.95;
    /// <summary>Adam's second-moment decay (in the rotated space).</summary>
    public double Beta2 { get; init; } = 0.95;
    /// <summary>EMA decay of Shampoo's factors L and R.</summary>
    public double ShampooBeta { get; init; } = 0.95;
    /// <summary>Adam's epsilon, added to the bias-corrected root of the second moment.</summary>
    public double Eps { get; init; } = 1e-8;
    /// <summary>The eigenbasis is recomputed after step 1 and then every this many steps.</summary>
    public int PreconditionFrequency { get; init; } = 10;
    /// <summary>Sides longer than this keep the identity basis (SOAP's max_precond_dim; 0: every side, which is AdamW).</summary>
    public int MaxPreconditionerDim { get; init; } = 10000;
    /// <summary>
    /// Give each factor's numerical null space a canonical basis (a second eigh per refresh, see
    /// <see cref="SymmetricMatrixFunctions.Eigenbasis"/>), so round-off (micro-batching, device) cannot choose it; false:
    /// whatever eigh returns there, as the reference does, at half the refresh cost.
    /// </summary>
    public bool CanonicalNullBasis { get; init; } = true;
    /// <summary>Decoupled (AdamW-style) weight decay: p &lt;- p (1 - lr wd) - lr direction.</summary>
    public double WeightDecay { get; init; } = 0.01;

    /// <summary>The reference defaults above: betas (0.95, 0.95), shampoo_beta 0.95, eps 1e-8, basis every 10 steps, weight decay 0.01.</summary>
    public static SoapOptions Default { get; } = new();

    /// <summary>The degenerate configuration that must reproduce AdamW exactly: no side rotated.</summary>
    public static SoapOptions AsAdamW { get; } = new() { MaxPreconditionerDim = 0 };

    /// <summary>Throws an <see cref="ArgumentException"/> naming the first invalid value.</summary>
    public void Validate()
    {
        if (!(Beta1 >= 0 && Beta1 < 1)) throw new ArgumentOutOfRangeException(nameof(Beta1), Beta1, "soap.beta1 must lie in [0, 1).");
        if (!(Beta2 >= 0 && Beta2 < 1)) throw new ArgumentOutOfRangeException(nameof(Beta2), Beta2, "soap.beta2 must lie in [0, 1).");
        if (!(ShampooBeta >= 0 && ShampooBeta < 1)) throw new ArgumentOutOfRangeException(nameof(ShampooBeta), ShampooBeta, "soap.shampoo_beta must lie in [0, 1).");
        if (!(Eps > 0) || double.IsInfinity(Eps)) throw new ArgumentOutOfRangeException(nameof(Eps), Eps, "soap.eps must be > 0.");
        if (PreconditionFrequency < 1) throw new ArgumentOutOfRangeException(nameof(PreconditionFrequency), PreconditionFrequency, "soap.precondition_frequency must be >= 1.");
        if (MaxPreconditionerDim < 0) throw new ArgumentOutOfRangeException(nameof(MaxPreconditionerDim), MaxPreconditionerDim, "soap.max_preconditioner_dim must be >= 0.");
        if (!(WeightDecay >= 0) || double.IsInfinity(WeightDecay)) throw new ArgumentOutOfRangeException(nameof(WeightDecay), WeightDecay, "soap.weight_decay must be >= 0.");
    }
}
