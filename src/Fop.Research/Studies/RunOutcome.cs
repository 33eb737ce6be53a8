using System.Globalization;
using Fop.Research.Training;

namespace Fop.Research.Studies;

/// <summary>One finished run of a study as its results.csv row reports it.</summary>
/// <param name="Stage">Why it ran: tune, target, scaling, seed, cnn, long-tailed.</param>
/// <param name="Summary">The run's summary.</param>
/// <param name="Target">The study's target accuracy (0-1), or null before it is known.</param>
/// <param name="EpochsToTarget">First epoch at or above the target, or null.</param>
/// <param name="SecondsToTarget">Training seconds (evaluation excluded) until then, or null.</param>
/// <param name="Note">Settings that distinguish the run (damping, interval, imbalance factor).</param>
public sealed record RunOutcome(string Stage, RunSummary Summary, double? Target, int? EpochsToTarget, double? SecondsToTarget, string Note)
{
    /// <summary>Whether the run reached the target.</summary>
    public bool Reached => EpochsToTarget is not null;

    /// <summary>Reads a run's first crossing of <paramref name="target"/> from its metrics.csv (so a target fixed after the run still applies).</summary>
    public static (int? Epochs, double? Seconds) FirstCrossing(string runDir, double? target) =>
        target is double && File.Exists(Path.Combine(runDir, "metrics.csv")) ? FirstCrossing(EpochMetrics.Read(runDir), target) : (null, null);

    /// <summary>
    /// The first epoch of <paramref name="metrics"/> whose accuracy reaches <paramref name="target"/>, with its training seconds:
    /// validation accuracy when the run had a validation split (as the trainer decides), else test accuracy.
    /// </summary>
    public static (int? Epochs, double? Seconds) FirstCrossing(IReadOnlyList<EpochMetrics> metrics, double? target)
    {
        if (target is not double t) return (null, null);
        var first = metrics.FirstOrDefault(m => (m.HasValidation ? m.ValAccuracy : m.TestAccuracy) >= t);
        return first is null ? (null, null) : (first.Epoch, first.TrainSeconds);
    }

    /// <summary>CSV header of <see cref="ToCsv"/>.</summary>
    public const string CsvHeader = "stage,run,model,optimizer,batch,lr,seed,note,epochs_run,epochs_to_target,seconds_to_target,best_accuracy,final_accuracy,ms_per_step,train_seconds,diverged_or_stalled";

    /// <summary>The results.csv row.</summary>
    public string ToCsv()
    {
        var m = Summary;
        return string.Join(",", Stage, m.Name, m.Model, m.Optimizer, m.BatchSize.ToString(CultureInfo.InvariantCulture), m.Lr.ToString("g6", CultureInfo.InvariantCulture),
            m.Seed.ToString(CultureInfo.InvariantCulture), Note, m.EpochsRun.ToString(CultureInfo.InvariantCulture),
            EpochsToTarget?.ToString(CultureInfo.InvariantCulture) ?? "", SecondsToTarget?.ToString("F1", CultureInfo.InvariantCulture) ?? "",
            m.BestTestAccuracy.ToString("F4", CultureInfo.InvariantCulture), m.FinalTestAccuracy.ToString("F4", CultureInfo.InvariantCulture),
            m.MedianStepMs.ToString("F1", CultureInfo.InvariantCulture), m.TrainSeconds.ToString("F1", CultureInfo.InvariantCulture), m.Diverged is null ? "0" : "1");
    }
}
