namespace Fop.Research.Studies;

/// <summary>
/// Where each base config's cost per step comes from: its interleaved bench when there is one (keyed by config name), else
/// the runs' own median milliseconds per step. Steps are what the runs measure exactly; cost is measured once, apart.
/// </summary>
public sealed record StepCosts(IReadOnlyDictionary<string, BenchCosts> Bench)
{
    /// <summary>No bench: every config uses its runs' medians.</summary>
    public static StepCosts InRun { get; } = new(new Dictionary<string, BenchCosts>());

    /// <summary>The cost of optimizer <paramref name="a"/>'s step over <paramref name="b"/>'s on <paramref name="config"/>.</summary>
    public CostRatio Ratio(IReadOnlyList<CurveRun> runs, string config, string a, string b)
    {
        if (Bench.TryGetValue(config, out var bench)) return bench.Ratio(a, b);
        IReadOnlyCollection<double> Ms(string optimizer) => runs.Where(r => r.Config == config && r.Optimizer == optimizer).Select(r => r.MedianStepMs).ToList();
        return CostRatio.FromRuns(Ms(a), Ms(b));
    }
}
