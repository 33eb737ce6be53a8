namespace Fop.Research.Optim;

/// <summary>A learning-rate schedule as a config names it; the factor multiplies the base learning rate.</summary>
/// <param name="Kind">constant, cosine, step, exponential or plateau.</param>
/// <param name="WarmupEpochs">Linear warm-up from 0 over this many (fractional) epochs, then the schedule.</param>
/// <param name="Milestones">Epochs at which the step schedule multiplies by <paramref name="Gamma"/>.</param>
/// <param name="Gamma">Decay factor of step, exponential (per epoch) and plateau schedules.</param>
/// <param name="MinFactor">Floor of the factor (cosine ends here).</param>
/// <param name="Patience">Epochs without test-accuracy improvement before a plateau decay.</param>
/// <param name="WarmupSteps">Warm-up of at least this many optimizer steps (at batch 60,000 five epochs are five steps).</param>
/// <param name="WarmupFraction">Warm-up of at least this fraction of all training steps.</param>
public sealed record LrSchedule(string Kind = "constant", double WarmupEpochs = 0, int[]? Milestones = null, double Gamma = 0.1, double MinFactor = 0, int Patience = 5,
    int WarmupSteps = 0, double WarmupFraction = 0)
{
    /// <summary>The warm-up in (fractional) epochs: the longest of warmup_epochs, warmup_steps and warmup_fraction of the run.</summary>
    public double WarmupLength(int totalEpochs, int stepsPerEpoch) =>
        Math.Max(WarmupEpochs, Math.Max(WarmupSteps / (double)Math.Max(1, stepsPerEpoch), WarmupFraction * totalEpochs));

    /// <summary>The kinds a config may name.</summary>
    public static IReadOnlyList<string> Kinds { get; } = ["constant", "cosine", "step", "exponential", "plateau"];

    /// <summary>Throws an <see cref="ArgumentException"/> naming the first invalid value.</summary>
    public void Validate()
    {
        if (!Kinds.Contains(Kind)) throw new ArgumentException($"schedule.kind '{Kind}' is not one of {string.Join(", ", Kinds)}.");
        if (!(WarmupEpochs >= 0)) throw new ArgumentOutOfRangeException(nameof(WarmupEpochs), WarmupEpochs, "schedule.warmup_epochs must be >= 0.");
        if (!(Gamma > 0 && Gamma <= 1)) throw new ArgumentOutOfRangeException(nameof(Gamma), Gamma, "schedule.gamma must lie in (0, 1].");
        if (!(MinFactor >= 0 && MinFactor <= 1)) throw new ArgumentOutOfRangeException(nameof(MinFactor), MinFactor, "schedule.min_factor must lie in [0, 1].");
        if (WarmupSteps < 0) throw new ArgumentOutOfRangeException(nameof(WarmupSteps), WarmupSteps, "schedule.warmup_steps must be >= 0.");
        if (!(WarmupFraction >= 0 && WarmupFraction < 1)) throw new ArgumentOutOfRangeException(nameof(WarmupFraction), WarmupFraction, "schedule.warmup_fraction must lie in [0, 1).");
        if (Patience < 1) throw new ArgumentOutOfRangeException(nameof(Patience), Patience, "schedule.patience must be >= 1.");
        if (Kind == "step" && (Milestones is null || Milestones.Length == 0)) throw new ArgumentException("schedule.milestones must list epochs for a step schedule.");
    }
}

/// <summary>The running state of an <see cref="LrSchedule"/> (plateau needs memory of test accuracy).</summary>
public sealed class LrScheduler
{
    readonly LrSchedule schedule;
    readonly int totalEpochs;
    readonly double warmup;

    /// <summary>Creates the scheduler for a run of <paramref name="totalEpochs"/> epochs of <paramref name="stepsPerEpoch"/> steps (for warm-ups given in steps).</summary>
    public LrScheduler(LrSchedule schedule, int totalEpochs, int stepsPerEpoch = 1)
    {
        schedule.Validate();
        this.schedule = schedule;
        this.totalEpochs = Math.Max(1, totalEpochs);
        warmup = schedule.WarmupLength(this.totalEpochs, stepsPerEpoch);
    }

    /// <summary>The warm-up in force, in (fractional) epochs.</summary>
    public double WarmupEpochs => warmup;

    /// <summary>Plateau state: current multiplier, best accuracy and epochs since it improved.</summary>
    public (double Factor, double Best, int BadEpochs) PlateauState { get; set; } = (1.0, double.NegativeInfinity, 0);

    /// <summary>The factor at fractional epoch <paramref name="epoch"/> (epoch index + fraction of its steps done).</summary>
    public double Factor(double epoch)
    {
        double f = schedule.Kind switch
        {
            "constant" => 1.0,
            "cosine" => schedule.MinFactor + (1 - schedule.MinFactor) * 0.5 * (1 + Math.Cos(Math.PI * Math.Min(1, Math.Max(0, epoch - warmup) / Math.Max(1e-9, totalEpochs - warmup)))),
            "step" => Math.Pow(schedule.Gamma, schedule.Milestones!.Count(m => epoch >= m)),
            "exponential" => Math.Pow(schedule.Gamma, Math.Floor(epoch)),
            "plateau" => PlateauState.Factor,
            _ => throw new InvalidOperationException(schedule.Kind),
        };
        f = Math.Max(f, schedule.MinFactor);
        if (warmup > 0 && epoch < warmup) f *= (epoch + 1e-9) / warmup;
        return f;
    }

    /// <summary>Feeds an epoch's test accuracy to the plateau rule.</summary>
    public void EndEpoch(double testAccuracy)
    {
        if (schedule.Kind != "plateau") return;
        var (factor, best, bad) = PlateauState;
        if (testAccuracy > best) { best = testAccuracy; bad = 0; }
        else if (++bad >= schedule.Patience) { factor = Math.Max(schedule.MinFactor, factor * schedule.Gamma); bad = 0; }
        PlateauState = (factor, best, bad);
    }
}

/// <summary>The linear scaling rule (Goyal et al. 2017).</summary>
public static class LinearScaling
{
    /// <summary>lr = baseLr * batch / baseBatch; the base learning rate when no base batch is given.</summary>
    public static double Apply(double baseLr, int batch, int? baseBatch) => baseBatch is int b && b > 0 ? baseLr * batch / b : baseLr;
}
