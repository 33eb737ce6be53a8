namespace Fop.Research.Optim;

/// <summary>
/// What KFAC and FOP do after preconditioning: SGD with momentum and weight decay, AdamW for the parameters without a
/// Kronecker block when <see cref="KfacOptions.Unpreconditioned"/> asks for it, and global-norm clipping of the directions.
/// </summary>
/// <remarks>
/// These are the first-order optimizers' own settings (a run config's sgd, adamw and grad_clip), held once and handed to
/// KFAC and FOP beside their curvature options, so a config and a notebook that builds an optimizer by hand mean the same.
/// </remarks>
/// <param name="Sgd">Momentum and weight decay of the preconditioned direction (and of every other parameter with the SGD rule).</param>
/// <param name="AdamW">AdamW for parameters without a Kronecker block when the rule is AdamW.</param>
/// <param name="GradClip">Clip the global norm of the final directions to this value; null turns it off.</param>
public sealed record TailOptions(SgdOptions Sgd, AdamWOptions AdamW, double? GradClip = null)
{
    /// <summary>The paper's tail: SGD momentum 0.9, weight decay 5e-4, AdamW defaults, no clipping.</summary>
    public static TailOptions Paper { get; } = new(SgdOptions.Paper, AdamWOptions.Default);

    /// <summary>Plain steps: no momentum, no weight decay, no clipping (the tail of exact comparisons and teaching planes).</summary>
    public static TailOptions Plain { get; } = new(new SgdOptions(0, false, 0), AdamWOptions.Default);

    /// <summary>The paper's tail with SGD settings <paramref name="sgd"/>.</summary>
    public static TailOptions With(SgdOptions sgd) => Paper with { Sgd = sgd };

    /// <summary>Throws an <see cref="ArgumentException"/> naming the first invalid value.</summary>
    public void Validate()
    {
        ArgumentNullException.ThrowIfNull(Sgd);
        ArgumentNullException.ThrowIfNull(AdamW);
        if (GradClip is double c && !(c > 0)) throw new ArgumentOutOfRangeException(nameof(GradClip), c, "grad_clip must be > 0 or null (off).");
        Sgd.Validate();
        AdamW.Validate();
    }
}
