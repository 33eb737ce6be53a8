using Fop.Research.Training;

namespace Fop.Research.Studies;

/// <summary>
/// Where a run's validation accuracy first reached a target: the steps done at the first evaluation at or above it, and at
/// the evaluation before that, so the crossing lies in (<see cref="After"/>, <see cref="Step"/>]. With evaluation after
/// every step near the target the two are one step apart; at epoch ends alone they are an epoch apart.
/// </summary>
public sealed record TargetCrossing(double Target, long? Step, long After)
{
    /// <summary>Whether the target was reached.</summary>
    public bool Reached => Step is not null;
    /// <summary>Steps between the evaluation before the crossing and the crossing: how finely <see cref="Step"/> is known (null: not reached).</summary>
    public long? Resolution => Step - After;
}

/// <summary>A run's validation evaluations in step order: its epoch ends (metrics.csv) and those between steps (evals.csv), each step once.</summary>
public static class ValidationCurve
{
    /// <summary>Steps done and validation accuracy at every evaluation of the run in <paramref name="runDir"/> (empty without a validation split).</summary>
    public static IReadOnlyList<(long Step, double Accuracy)> Read(string runDir)
    {
        var epochEnds = File.Exists(Path.Combine(runDir, "metrics.csv"))
            ? EpochMetrics.Read(runDir).Where(m => m.HasValidation).Select(m => (Step: m.Steps, Accuracy: m.ValAccuracy))
            : [];
        // An epoch end is also logged in evals.csv while evaluation every step is on; both are the same evaluation.
        return epochEnds.Concat(EvalLog.Read(runDir).Select(e => (e.Step, Accuracy: e.ValAccuracy)))
            .GroupBy(e => e.Step).Select(g => g.First()).OrderBy(e => e.Step).ToList();
    }

    /// <summary>The first crossing of <paramref name="target"/> among <paramref name="evaluations"/> (in step order).</summary>
    public static TargetCrossing Crossing(IReadOnlyList<(long Step, double Accuracy)> evaluations, double target)
    {
        long before = 0;
        foreach (var (step, accuracy) in evaluations)
        {
            if (accuracy >= target) return new TargetCrossing(target, step, before);
            before = step;
        }
        return new TargetCrossing(target, null, before);
    }
}
