namespace Fop.Research.Optim;

/// <summary>Which diagonal method sets the size of Shampoo's step (its direction comes from Shampoo, its norm from this).</summary>
public enum GraftingMethod
{
    /// <summary>Adam: an EMA of squared gradients with decay <see cref="ShampooOptions.GraftingBeta2"/>, bias-corrected.</summary>
    Adam,
    /// <summary>AdaGrad: the running sum of squared gradients.</summary>
    Adagrad,
}

/// <summary>
/// Shampoo as Distributed Shampoo (Shi et al. 2023; facebookresearch/optimizers) defines it, every choice a field. Per
/// weight matrix G (a conv kernel as (out, in*kh*kw), see <see cref="MatrixView"/>), split into blocks of at most
/// <see cref="MaxPreconditionerDim"/> rows and columns: factors L = EMA(G G^T), R = EMA(G^T G) every step (sums when
/// <see cref="Beta2"/> is 1); their bias-corrected inverse 4th roots (exponent 1/(2 order), order 2) with
/// <see cref="Epsilon"/>, recomputed every <see cref="PreconditionFrequency"/> steps; direction L^-1/4 M R^-1/4 of the
/// filtered gradient M, rescaled per block to the norm of the grafting method's direction. 1-D parameters step with the
/// grafting method alone. Validated by <see cref="Validate"/>, which the optimizer calls at construction.
/// </summary>
public sealed record ShampooOptions
{
    /// <summary>EMA decay of the filtered gradient (Distributed Shampoo's beta1; 0: the raw gradient), bias-corrected.</summary>
    public double Beta1 { get; init; } = 0.9;
    /// <summary>EMA decay of the factors L and R (bias-corrected); 1 accumulates AdaGrad sums.</summary>
    public double Beta2 { get; init; } = 0.999;
    /// <summary>Added to the factors' (non-negative) eigenvalues before the inverse root.</summary>
    public double Epsilon { get; init; } = 1e-12;
    /// <summary>Inverse roots are recomputed every this many steps (factors are updated every step).</summary>
    public int PreconditionFrequency { get; init; } = 10;
    /// <summary>First step (1-based) that uses Shampoo's direction; its roots are computed then. Earlier steps use the grafting method alone.</summary>
    public int StartPreconditioningStep { get; init; } = 1;
    /// <summary>Largest side of a preconditioned block: larger matrices are split into blocks, each with its own factors (Distributed Shampoo's default 1024).</summary>
    public int MaxPreconditionerDim { get; init; } = 1024;
    /// <summary>The method whose direction's norm Shampoo's direction takes, block by block.</summary>
    public GraftingMethod Grafting { get; init; } = GraftingMethod.Adam;
    /// <summary>Adam grafting's decay of squared gradients (ignored by AdaGrad grafting).</summary>
    public double GraftingBeta2 { get; init; } = 0.999;
    /// <summary>The grafting method's epsilon, added to the root of its second moment.</summary>
    public double GraftingEps { get; init; } = 1e-8;
    /// <summary>Decoupled (AdamW-style) weight decay: p &lt;- p (1 - lr wd) - lr direction.</summary>
    public double WeightDecay { get; init; }

    /// <summary>The defaults above: Adam grafting, beta2 0.999, epsilon 1e-12, roots every 10 steps from step 1, blocks of 1024.</summary>
    public static ShampooOptions Default { get; } = new();

    /// <summary>Shampoo in its original AdaGrad form: factor sums (beta2 = 1), no filtering, AdaGrad grafting.</summary>
    public static ShampooOptions Adagrad { get; } = new() { Beta1 = 0, Beta2 = 1, Grafting = GraftingMethod.Adagrad, GraftingEps = 1e-10 };

    /// <summary>Throws an <see cref="ArgumentException"/> naming the first invalid value.</summary>
    public void Validate()
    {
        if (!(Beta1 >= 0 && Beta1 < 1)) throw new ArgumentOutOfRangeException(nameof(Beta1), Beta1, "shampoo.beta1 must lie in [0, 1).");
        if (!(Beta2 > 0 && Beta2 <= 1)) throw new ArgumentOutOfRangeException(nameof(Beta2), Beta2, "shampoo.beta2 must lie in (0, 1] (1: AdaGrad sums).");
        if (!(Epsilon > 0) || double.IsInfinity(Epsilon)) throw new ArgumentOutOfRangeException(nameof(Epsilon), Epsilon, "shampoo.epsilon must be > 0.");
        if (PreconditionFrequency < 1) throw new ArgumentOutOfRangeException(nameof(PreconditionFrequency), PreconditionFrequency, "shampoo.precondition_frequency must be >= 1.");
        if (StartPreconditioningStep < 1) throw new ArgumentOutOfRangeException(nameof(StartPreconditioningStep), StartPreconditioningStep, "shampoo.start_preconditioning_step must be >= 1.");
        if (MaxPreconditionerDim < 1) throw new ArgumentOutOfRangeException(nameof(MaxPreconditionerDim), MaxPreconditionerDim, "shampoo.max_preconditioner_dim must be >= 1.");
        if (!Enum.IsDefined(Grafting)) throw new ArgumentOutOfRangeException(nameof(Grafting), Grafting, "shampoo.grafting must be adam or adagrad.");
        if (!(GraftingBeta2 > 0 && GraftingBeta2 < 1)) throw new ArgumentOutOfRangeException(nameof(GraftingBeta2), GraftingBeta2, "shampoo.grafting_beta2 must lie in (0, 1).");
        if (!(GraftingEps > 0) || double.IsInfinity(GraftingEps)) throw new ArgumentOutOfRangeException(nameof(GraftingEps), GraftingEps, "shampoo.grafting_eps must be > 0.");
        if (!(WeightDecay >= 0) || double.IsInfinity(WeightDecay)) throw new ArgumentOutOfRangeException(nameof(WeightDecay), WeightDecay, "shampoo.weight_decay must be >= 0.");
    }
}
