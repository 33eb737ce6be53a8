namespace Fop.Research.Optim;

/// <summary>SGD with momentum: the paper's baseline and the tail of KFAC and FOP.</summary>
/// <param name="Momentum">Heavy-ball momentum in [0, 1).</param>
/// <param name="Nesterov">Nesterov momentum.</param>
/// <param name="WeightDecay">Coupled L2 weight decay (added to the direction).</param>
public sealed record SgdOptions(double Momentum = 0.9, bool Nesterov = false, double WeightDecay = 5e-4)
{
    /// <summary>The paper's setting: momentum 0.9, L2 5e-4.</summary>
    public static SgdOptions Paper { get; } = new();

    /// <summary>Throws an <see cref="ArgumentException"/> naming the first invalid value.</summary>
    public void Validate()
    {
        if (!(Momentum >= 0 && Momentum < 1)) throw new ArgumentOutOfRangeException(nameof(Momentum), Momentum, "momentum must lie in [0, 1).");
        if (!(WeightDecay >= 0) || double.IsInfinity(WeightDecay)) throw new ArgumentOutOfRangeException(nameof(WeightDecay), WeightDecay, "weight_decay must be >= 0.");
        if (Nesterov && Momentum == 0) throw new ArgumentException("nesterov needs momentum > 0.");
    }

    /// <summary>The update rule these options describe.</summary>
    public IUpdateRule CreateRule() { Validate(); return new MomentumSgd(Momentum, WeightDecay, Nesterov); }
}

/// <summary>AdamW hyperparameters.</summary>
public sealed record AdamWOptions(double Beta1 = 0.9, double Beta2 = 0.999, double Eps = 1e-8, double WeightDecay = 0.05)
{
    /// <summary>Defaults used for the ViT experiments.</summary>
    public static AdamWOptions Default { get; } = new();

    /// <summary>Throws an <see cref="ArgumentException"/> naming the first invalid value.</summary>
    public void Validate()
    {
        if (!(Beta1 >= 0 && Beta1 < 1)) throw new ArgumentOutOfRangeException(nameof(Beta1), Beta1, "beta1 must lie in [0, 1).");
        if (!(Beta2 >= 0 && Beta2 < 1)) throw new ArgumentOutOfRangeException(nameof(Beta2), Beta2, "beta2 must lie in [0, 1).");
        if (!(Eps > 0) || double.IsInfinity(Eps)) throw new ArgumentOutOfRangeException(nameof(Eps), Eps, "eps must be > 0.");
        if (!(WeightDecay >= 0) || double.IsInfinity(WeightDecay)) throw new ArgumentOutOfRangeException(nameof(WeightDecay), WeightDecay, "weight_decay must be >= 0.");
    }

    /// <summary>The update rule these options describe.</summary>
    public IUpdateRule CreateRule() { Validate(); return new AdamWRule(Beta1, Beta2, Eps, WeightDecay); }
}
