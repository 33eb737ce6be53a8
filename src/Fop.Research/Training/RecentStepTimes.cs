using MathNet.Numerics.Statistics;

namespace Fop.Research.Training;

/// <summary>
/// The step times a run keeps for its summary's median: the most recent <see cref="Window"/> to 2 x <see cref="Window"/>
/// (the older half dropped when full), so a checkpoint does not grow with the run; the median is the true median.
/// </summary>
internal static class RecentStepTimes
{
    /// <summary>How many recent step times the median is taken over at least, once a run has had that many.</summary>
    public const int Window = 4096;

    /// <summary>Adds a step's time to <paramref name="times"/>, dropping the oldest half when it holds 2 x <see cref="Window"/>.</summary>
    public static void Add(List<double> times, double ms)
    {
        if (times.Count >= 2 * Window) times.RemoveRange(0, times.Count - Window);
        times.Add(ms);
    }

    /// <summary>The median of <paramref name="times"/> (the mean of the middle two for an even count); NaN for none.</summary>
    public static double Median(IReadOnlyCollection<double> times) => times.Count == 0 ? double.NaN : times.Median();
}
