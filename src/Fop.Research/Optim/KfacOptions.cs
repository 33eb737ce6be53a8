using System.Text.Json.Serialization;
using Fop.Research.Curvature;

namespace Fop.Research.Optim;

/// <summary>Which rule steps the parameters KFAC/FOP do not precondition (BatchNorm, LayerNorm, embeddings, excluded layers).</summary>
public enum UnpreconditionedRule
{
    /// <summary>The same SGD with momentum and weight decay as the preconditioned layers.</summary>
    Sgd,
    /// <summary>AdamW, as the paper does for the ViT.</summary>
    [JsonStringEnumMemberName("adamw")]
    AdamW,
}

/// <summary>KFAC (fop-method.md §1), every choice a field. Validated by <see cref="Validate"/>, which every optimizer calls at construction.</summary>
public sealed record KfacOptions
{
    /// <summary>How G is estimated.</summary>
    public FisherType Fisher { get; init; } = FisherType.MonteCarlo;
    /// <summary>EMA decay rho of the factors; null means fresh factors at every curvature step.</summary>
    public double? EmaDecay { get; init; }
    /// <summary>Tikhonov damping lambda (may be a schedule over optimizer steps).</summary>
    public ValueSchedule Damping { get; init; } = 1e-3;
    /// <summary>How damping enters.</summary>
    public DampingForm DampingForm { get; init; } = DampingForm.PiSplit;
    /// <summary>Factors are re-estimated every this many steps.</summary>
    public int CurvatureInterval { get; init; } = 10;
    /// <summary>Inverses are recomputed every this many steps (a multiple of the curvature interval).</summary>
    public int InverseInterval { get; init; } = 10;
    /// <summary>KL clipping kappa (kfac-pytorch); null turns it off.</summary>
    public double? KlClip { get; init; }
    /// <summary>Rule for parameters without a Kronecker block (its settings, and momentum and weight decay, are the <see cref="TailOptions"/>).</summary>
    public UnpreconditionedRule Unpreconditioned { get; init; } = UnpreconditionedRule.Sgd;
    /// <summary>Estimate the factors from this many examples of the batch, drawn by the seeded generator at each curvature step (null: the whole batch). The subset gets one extra forward and a backward to the layer outputs only; the main pass then records nothing.</summary>
    public int? FactorExamples { get; init; }
    /// <summary>Estimate a conv layer's A from this many output positions per call, drawn by the seeded generator (null: every position, the full KFC factor).</summary>
    public int? ConvPositions { get; init; }
    /// <summary>Which layers get a Kronecker block.</summary>
    public LayerSelection Layers { get; init; } = LayerSelection.All;

    /// <summary>The paper's ASDL setup: Monte-Carlo Fisher, fresh factors, pi-split damping 1e-3, intervals 10 (with <see cref="TailOptions.Paper"/>: SGD momentum 0.9).</summary>
    public static KfacOptions Paper { get; } = new();

    /// <summary>kfac-pytorch's defaults: empirical Fisher, EMA 0.95, eigenbasis damping, KL clip 1e-3.</summary>
    public static KfacOptions KfacPytorch { get; } = new() { Fisher = FisherType.Empirical, EmaDecay = 0.95, DampingForm = DampingForm.Eigen, KlClip = 1e-3 };

    /// <summary>Throws an <see cref="ArgumentException"/> naming the first invalid value.</summary>
    public void Validate()
    {
        if (!Enum.IsDefined(Fisher)) throw new ArgumentOutOfRangeException(nameof(Fisher), Fisher, "fisher must be empirical, monte_carlo or exact.");
        if (EmaDecay is double rho && !(rho >= 0 && rho < 1)) throw new ArgumentOutOfRangeException(nameof(EmaDecay), rho, "ema_decay must lie in [0, 1) or be null (fresh factors).");
        Damping.Validate("damping", 0, 1e12, minExclusive: true);
        if (!Enum.IsDefined(DampingForm)) throw new ArgumentOutOfRangeException(nameof(DampingForm), DampingForm, "damping_form must be pi_split or eigen.");
        if (CurvatureInterval < 1) throw new ArgumentOutOfRangeException(nameof(CurvatureInterval), CurvatureInterval, "curvature_interval must be >= 1.");
        if (InverseInterval < 1 || InverseInterval % CurvatureInterval != 0)
            throw new ArgumentOutOfRangeException(nameof(InverseInterval), InverseInterval, $"inverse_interval must be a positive multiple of curvature_interval ({CurvatureInterval}).");
        if (KlClip is double k && !(k > 0) ) throw new ArgumentOutOfRangeException(nameof(KlClip), k, "kl_clip must be > 0 or null (off).");
        if (FactorExamples is int fe && fe < 1) throw new ArgumentOutOfRangeException(nameof(FactorExamples), fe, "factor_examples must be >= 1 or null (whole batch).");
        if (ConvPositions is int cp && cp < 1) throw new ArgumentOutOfRangeException(nameof(ConvPositions), cp, "conv_positions must be >= 1 or null (every position).");
        Layers.Validate();
    }
}
