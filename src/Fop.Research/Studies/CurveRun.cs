namespace Fop.Research.Studies;

/// <summary>
/// One run of a rate-sensitivity study as a point of its curve: the base config, the optimizer family (the study's variant
/// label before its grid was expanded) and optimizer, batch, learning rate and seed; its crossing of each target, best
/// validation accuracy, why it failed (diverged or stalled; null: it did not), its median milliseconds per step, name and record folder.
/// </summary>
public sealed record CurveRun(string Config, string Family, string Optimizer, int Batch, double Rate, long Seed,
    IReadOnlyList<TargetCrossing> Crossings, double BestValAccuracy, string? Failure, double MedianStepMs, string Run, string RunDir)
{
    /// <summary>Whether the run diverged or was abandoned as stalled.</summary>
    public bool Failed => Failure is not null;

    /// <summary>The run's crossing of <paramref name="target"/> (one of the targets it was read with).</summary>
    public TargetCrossing At(double target) => Crossings.FirstOrDefault(c => c.Target == target)
        ?? throw new ArgumentException($"{Run}: read without target {target}; targets: {string.Join(", ", Crossings.Select(c => c.Target))}.");
}
