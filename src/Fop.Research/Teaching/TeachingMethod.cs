using Fop.Research.Optim;

namespace Fop.Research.Teaching;

/// <summary>The update rules compared in the plane.</summary>
public enum TeachingMethod
{
    /// <summary>w -= lr g.</summary>
    GradientDescent,
    /// <summary>Heavy ball: v = mu v + g, w -= lr v.</summary>
    Momentum,
    /// <summary>w -= lr (H + lambda I)⁻¹ g with the exact Hessian.</summary>
    Newton,
    /// <summary>w -= lr (F + lambda I)⁻¹ g with the exact Fisher.</summary>
    NaturalGradient,
    /// <summary>w -= lr (G ⊗ A + lambda I)⁻¹ g per layer, through the library's Kronecker preconditioner.</summary>
    Kfac,
    /// <summary>FOP on two halves of the batch, through the library's per-layer projection.</summary>
    Fop,
    /// <summary>Shampoo per layer: L^-1/4 M R^-1/4 with Adam grafting (<see cref="MatrixMethodSteps"/>).</summary>
    Shampoo,
    /// <summary>SOAP per layer: Adam in the eigenbases of Shampoo's factors (<see cref="MatrixMethodSteps"/>).</summary>
    Soap,
    /// <summary>Muon per layer: Newton-Schulz-orthogonalised Nesterov momentum (<see cref="MatrixMethodSteps"/>).</summary>
    Muon,
}

/// <summary>Settings of a trajectory in the plane.</summary>
public sealed record TrajectoryOptions
{
    /// <summary>Step size.</summary>
    public double Lr { get; init; } = 0.5;
    /// <summary>Number of steps.</summary>
    public int Steps { get; init; } = 30;
    /// <summary>Damping lambda added to H, F or the Kronecker blocks.</summary>
    public double Damping { get; init; } = 1e-3;
    /// <summary>Momentum coefficient of <see cref="TeachingMethod.Momentum"/>.</summary>
    public double Momentum { get; init; } = 0.9;
    /// <summary>Examples per step (0: the whole data set); FOP splits it into two halves.</summary>
    public int BatchSize { get; init; }
    /// <summary>Seed of the batch draws (every method sees the same batches).</summary>
    public long Seed { get; init; }
    /// <summary>FOP's switches (its KFAC damping is <see cref="Damping"/>).</summary>
    public FopOptions Fop { get; init; } = FopOptions.Paper;
    /// <summary>Shampoo's settings (roots every step in the plane, no weight decay).</summary>
    public ShampooOptions Shampoo { get; init; } = ShampooOptions.Default;
    /// <summary>SOAP's settings (bases every step in the plane, no weight decay).</summary>
    public SoapOptions Soap { get; init; } = SoapOptions.Default;
    /// <summary>Muon's settings (no weight decay in the plane).</summary>
    public MuonOptions Muon { get; init; } = MuonOptions.Default;

    /// <summary>Throws an <see cref="ArgumentException"/> naming the first invalid value.</summary>
    public void Validate()
    {
        if (!(Lr > 0 && double.IsFinite(Lr))) throw new ArgumentOutOfRangeException(nameof(Lr), Lr, "lr must be positive.");
        if (Steps < 1) throw new ArgumentOutOfRangeException(nameof(Steps), Steps, "steps must be >= 1.");
        if (!(Damping > 0 && double.IsFinite(Damping))) throw new ArgumentOutOfRangeException(nameof(Damping), Damping, "damping must be positive.");
        if (!(Momentum >= 0 && Momentum < 1)) throw new ArgumentOutOfRangeException(nameof(Momentum), Momentum, "momentum must lie in [0, 1).");
        if (BatchSize < 0 || BatchSize == 1) throw new ArgumentOutOfRangeException(nameof(BatchSize), BatchSize, "batch size must be 0 (all) or >= 2 (two halves).");
        Fop.Validate();
    }
}
