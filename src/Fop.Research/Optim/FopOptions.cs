namespace Fop.Research.Optim;

/// <summary>How beta, the weight of the Fisher-orthogonal component, is chosen.</summary>
public enum BetaRule
{
    /// <summary>beta = D / E per layer, the minimiser of the local quadratic model (0 when E vanishes).</summary>
    Adaptive,
    /// <summary>beta = <see cref="FopOptions.FixedBeta"/> for every layer.</summary>
    Fixed,
}

/// <summary>Which gradient g_t enters the layer-wise step scale eta = &lt;g_t, F^-1 g_comb&gt; / &lt;g_comb, F^-1 g_comb&gt;.</summary>
public enum EtaReference
{
    /// <summary>g_t = g_avg: eta lies in (1/3, 1] with adaptive beta (the paper's prose "eta approaches 1").</summary>
    Average,
    /// <summary>g_t = g1 + g2: the paper's literal eq. 8; eta lies in (2/3, 2].</summary>
    Sum,
}

/// <summary>FOP's own switches (docs/method.md): what it adds to its KFAC base (<see cref="KfacOptions"/>, given beside these), every ingredient a switch.</summary>
public sealed record FopOptions
{
    /// <summary>Add beta * g_perp to the mean gradient; off gives g_comb = g_avg (KFAC on the same split).</summary>
    public bool Projection { get; init; } = true;
    /// <summary>Adaptive or fixed beta.</summary>
    public BetaRule Beta { get; init; } = BetaRule.Adaptive;
    /// <summary>beta when <see cref="Beta"/> is Fixed.</summary>
    public double FixedBeta { get; init; }
    /// <summary>Scale each layer's step by eta; off means eta = 1.</summary>
    public bool LayerScale { get; init; } = true;
    /// <summary>The g_t reading of eta.</summary>
    public EtaReference EtaReference { get; init; } = EtaReference.Average;
    /// <summary>Use the damped factors (the ones whose inverse preconditions) for F in the projection coefficient; false uses the raw factors.</summary>
    public bool DampedProjection { get; init; } = true;
    /// <summary>Relative guard eps in s = &lt;g_diff, F g_avg&gt; / (&lt;g_avg, F g_avg&gt; (1 + eps)).</summary>
    public double Eps { get; init; } = 1e-12;
    /// <summary>Lower clamp of eta; null means no clamp.</summary>
    public double? EtaMin { get; init; }
    /// <summary>Upper clamp of eta; null means no clamp.</summary>
    public double? EtaMax { get; init; }
    /// <summary>
    /// Split the batch on the micro-batch boundary nearest the middle, so FOP's forward chunks are KFAC's (BatchNorm sees the
    /// same ghost batches); off: equal halves, each chunked on its own. Matters only with BatchNorm and micro-batching.
    /// </summary>
    public bool SplitAtChunk { get; init; }
    /// <summary>Compute the Fisher-norm and KL diagnostics every this many steps (they cost extra products); 0 turns them off.</summary>
    public int DiagnosticsInterval { get; init; } = 10;

    /// <summary>Our reading of the paper: adaptive beta, damped projection, eta with g_avg, no clamp, (on <see cref="KfacOptions.Paper"/> by default).</summary>
    public static FopOptions Paper { get; } = new();

    /// <summary>The degenerate configuration that must reproduce KFAC exactly: no projection, eta = 1, KFAC's chunks (BatchNorm models too).</summary>
    public static FopOptions AsKfac { get; } = new() { Projection = false, LayerScale = false, SplitAtChunk = true };

    /// <summary>Throws an <see cref="ArgumentException"/> naming the first invalid value.</summary>
    public void Validate()
    {
        if (!Enum.IsDefined(Beta)) throw new ArgumentOutOfRangeException(nameof(Beta), Beta, "beta must be adaptive or fixed.");
        if (!double.IsFinite(FixedBeta)) throw new ArgumentOutOfRangeException(nameof(FixedBeta), FixedBeta, "fixed_beta must be finite.");
        if (!Enum.IsDefined(EtaReference)) throw new ArgumentOutOfRangeException(nameof(EtaReference), EtaReference, "eta_reference must be average or sum.");
        if (!(Eps >= 0 && Eps < 1)) throw new ArgumentOutOfRangeException(nameof(Eps), Eps, "eps must lie in [0, 1).");
        if (EtaMin is double lo && !(lo > 0 && double.IsFinite(lo))) throw new ArgumentOutOfRangeException(nameof(EtaMin), lo, "eta_min must be > 0.");
        if (EtaMax is double hi && !(hi > 0 && double.IsFinite(hi))) throw new ArgumentOutOfRangeException(nameof(EtaMax), hi, "eta_max must be > 0.");
        if (EtaMin is double a && EtaMax is double b && a > b) throw new ArgumentException($"eta_min {a} exceeds eta_max {b}.");
        if (DiagnosticsInterval < 0) throw new ArgumentOutOfRangeException(nameof(DiagnosticsInterval), DiagnosticsInterval, "diagnostics_interval must be >= 0.");
    }
}
