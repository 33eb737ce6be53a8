using System.Globalization;

namespace Fop.Research.Studies;

/// <summary>
/// What a point of a rate curve is judged by: steps to a validation target (fewer is better; a run that never reached it
/// has no value, a failure), or best validation accuracy (higher is better; none when the run never evaluated).
/// </summary>
public sealed record CurveMetric(double? Target)
{
    /// <summary>Best validation accuracy.</summary>
    public static CurveMetric BestValAccuracy { get; } = new((double?)null);

    /// <summary>Steps to the first validation evaluation at or above <paramref name="target"/>.</summary>
    public static CurveMetric StepsTo(double target) => new(target);

    /// <summary>Whether larger values are better.</summary>
    public bool HigherIsBetter => Target is null;

    /// <summary>The run's value, or null where it has none (target not reached; no evaluation).</summary>
    public double? Value(CurveRun run) => Target is double t
        ? run.At(t).Step is long s ? s : null
        : double.IsFinite(run.BestValAccuracy) ? run.BestValAccuracy : null;

    /// <summary>The metric in words, for tables.</summary>
    public string Name => Target is double t ? $"steps to {(100 * t).ToString("0.##", CultureInfo.InvariantCulture)}%" : "best val acc";

    /// <inheritdoc />
    public override string ToString() => Name;
}
