using MathNet.Numerics.Statistics;

namespace Fop.Research.Studies;

/// <summary>
/// How much dearer one optimizer's step is than another's: a middle estimate and the range it is known to lie in, and
/// where it was measured. Time to a target is steps x cost per step, so a time ratio is a step ratio times this.
/// </summary>
public sealed record CostRatio(double Median, double Min, double Max, string Source)
{
    /// <summary>Checks that the range is positive and holds the estimate; returns this.</summary>
    public CostRatio Validate()
    {
        if (!(Min > 0 && Min <= Median && Median <= Max && double.IsFinite(Max))) throw new ArgumentException($"cost ratio {Median} [{Min}, {Max}] ({Source}) must be positive with min <= median <= max.");
        return this;
    }

    /// <summary>
    /// From the runs' own median milliseconds per step (no bench for this config): the ratio of the medians, and the range
    /// from the cheapest run of one against the dearest of the other, so every run's cost lies inside it.
    /// </summary>
    public static CostRatio FromRuns(IReadOnlyCollection<double> a, IReadOnlyCollection<double> b)
    {
        var x = a.Where(v => double.IsFinite(v) && v > 0).Order().ToList();
        var y = b.Where(v => double.IsFinite(v) && v > 0).Order().ToList();
        if (x.Count == 0 || y.Count == 0) throw new ArgumentException("the runs of both optimizers need a median time per step.");
        return new CostRatio(MedianOf(x) / MedianOf(y), x[0] / y[^1], x[^1] / y[0], $"{InRunSource} of {x.Count} and {y.Count} runs").Validate();
    }

    /// <summary>Whether the ratio was taken from the runs' own timings rather than an interleaved bench.</summary>
    public bool InRun => Source.StartsWith(InRunSource, StringComparison.Ordinal);

    const string InRunSource = "in-run medians";

    internal static double MedianOf(IEnumerable<double> values) => values.Median();
}

