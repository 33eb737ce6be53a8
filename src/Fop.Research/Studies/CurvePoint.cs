namespace Fop.Research.Studies;

/// <summary>One target at one point of a curve: seeds that reached it, their steps (mean, min, max; NaN when none did) and the coarsest resolution of those crossings in steps.</summary>
public sealed record PointReach(double Target, int Reached, double MeanSteps, double MinSteps, double MaxSteps, long Resolution);

/// <summary>One point of a rate curve over its seeds: the seeds, each target's reach, best validation accuracy (mean, min, max) and how many seeds failed.</summary>
public sealed record CurvePoint(string Config, string Family, string Optimizer, double Rate, IReadOnlyList<long> Seeds, IReadOnlyList<PointReach> Reach,
    double MeanAccuracy, double MinAccuracy, double MaxAccuracy, int Failed);
