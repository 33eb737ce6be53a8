namespace Fop.Research.Studies;

/// <summary>What a tuning run is judged by: a validation accuracy of its summary (never test).</summary>
public enum TuneMetric
{
    /// <summary>Best validation accuracy over the run's epochs.</summary>
    BestValAccuracy,
    /// <summary>Validation accuracy after the last epoch (for studies that report the final model).</summary>
    FinalValAccuracy,
}

/// <summary>Where a tuned grid is centred.</summary>
public enum TuneCentre
{
    /// <summary>The config's own value of the key.</summary>
    Config,
    /// <summary>The config's value times batch_size / reference_batch (the linear scaling rule).</summary>
    Linear,
}

/// <summary>
/// How a study file tunes one numeric key (usually lr) per base config and variant on a validation split before its seeds
/// run: a geometric grid centre x step^k that extends past an edge until the chosen point is interior, with the same number
/// of tuning runs for every variant of a base config. Only the chosen point runs the study's seeds.
/// </summary>
public sealed record TuneSpec
{
    /// <summary>The config key tuned (a positive number, e.g. lr or kfac.damping).</summary>
    public string Key { get; init; } = "lr";
    /// <summary>Ratio between neighbouring grid points.</summary>
    public double Step { get; init; } = 2;
    /// <summary>The first grid: exponents k of centre x step^k.</summary>
    public IReadOnlyList<int> Initial { get; init; } = [-1, 0, 1];
    /// <summary>Where the grid is centred.</summary>
    public TuneCentre Centre { get; init; } = TuneCentre.Config;
    /// <summary>Batch size at which the config's value applies when <see cref="Centre"/> is linear.</summary>
    public int ReferenceBatch { get; init; }
    /// <summary>Tuning runs every variant of a base config gets at least (equal budgets: the grids are topped up to the largest).</summary>
    public int MinRuns { get; init; } = 4;
    /// <summary>No grid grows past this many runs; a choice still on an edge then is reported as not bracketed.</summary>
    public int MaxRuns { get; init; } = 8;
    /// <summary>What a tuning run is judged by.</summary>
    public TuneMetric Metric { get; init; } = TuneMetric.BestValAccuracy;
    /// <summary>Seed of the tuning runs (keep it out of the study's seeds: the reported seeds are fresh).</summary>
    public long Seed { get; init; }
    /// <summary>Groups of variant labels of which only the best (by the metric at its chosen point) runs the seeds, e.g. the best first-order method.</summary>
    public IReadOnlyList<IReadOnlyList<string>> Compete { get; init; } = [];

    /// <summary>Checks the spec against the study's variant labels and seeds; returns this.</summary>
    public TuneSpec Validate(IReadOnlyList<string> labels, IReadOnlyList<long> seeds)
    {
        if (string.IsNullOrWhiteSpace(Key)) throw new ArgumentException("tune.key: name the config key to tune (e.g. lr).");
        if (!(Step > 1) || double.IsInfinity(Step)) throw new ArgumentException($"tune.step {Step} must be a finite ratio > 1.");
        if (Initial.Count < 3 || Initial.Distinct().Count() != Initial.Count) throw new ArgumentException("tune.initial: at least three distinct exponents (a choice can only be interior among three).");
        if (Centre == TuneCentre.Linear && ReferenceBatch <= 0) throw new ArgumentException("tune.reference_batch must be > 0 when tune.centre is linear.");
        if (MinRuns < Initial.Count) throw new ArgumentException($"tune.min_runs {MinRuns} is below the {Initial.Count} points of tune.initial.");
        if (MaxRuns < MinRuns) throw new ArgumentException($"tune.max_runs {MaxRuns} is below tune.min_runs {MinRuns}.");
        if (seeds.Contains(Seed)) throw new ArgumentException($"tune.seed {Seed} is also a study seed: report seeds must be fresh, not the ones the choice was made on.");
        foreach (var group in Compete)
        {
            if (group.Count < 2) throw new ArgumentException("tune.compete: a group needs at least two variant labels.");
            if (group.FirstOrDefault(l => !labels.Contains(l)) is { } unknown) throw new ArgumentException($"tune.compete: '{unknown}' is not a variant label ({string.Join(", ", labels)}).");
        }
        if (Compete.SelectMany(g => g).GroupBy(l => l).FirstOrDefault(g => g.Count() > 1) is { } twice)
            throw new ArgumentException($"tune.compete: '{twice.Key}' is in more than one group.");
        return this;
    }

    /// <summary>The value at exponent <paramref name="k"/> around <paramref name="centre"/>.</summary>
    public double Value(double centre, int k) => centre * Math.Pow(Step, k);
}
