using Fop.Research.Training;

namespace Fop.Research.Studies;

/// <summary>The first epoch at which a run's accuracy reached a target, read from its per-epoch metrics.</summary>
public static class FirstCrossing
{
    /// <summary>
    /// The first epoch of <paramref name="metrics"/> whose accuracy reaches <paramref name="target"/>, with its training seconds:
    /// validation accuracy when the run had a validation split (as the trainer decides), else test accuracy.
    /// </summary>
    public static (int? Epochs, double? Seconds) Of(IReadOnlyList<EpochMetrics> metrics, double? target)
    {
        if (target is not double t) return (null, null);
        var first = metrics.FirstOrDefault(m => (m.HasValidation ? m.ValAccuracy : m.TestAccuracy) >= t);
        return first is null ? (null, null) : (first.Epoch, first.TrainSeconds);
    }
}
