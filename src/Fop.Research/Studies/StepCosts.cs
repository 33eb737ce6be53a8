namespace Fop.Research.Studies;

/// <summary>
/// Where each base config's cost per step comes from: an interleaved bench of that config that timed both optimizers of a
/// ratio (a config may have several, e.g. one for SGD/AdamW/KFAC/FOP and one for FOP beside Shampoo/SOAP/Muon), else the
/// runs' own median milliseconds per step, a source the ratio names. Steps are what the runs measure exactly; cost is
/// measured once, apart.
/// </summary>
public sealed record StepCosts(IReadOnlyDictionary<string, IReadOnlyList<BenchCosts>> Bench)
{
    /// <summary>One bench per config.</summary>
    public StepCosts(IReadOnlyDictionary<string, BenchCosts> bench) : this(bench.ToDictionary(b => b.Key, b => (IReadOnlyList<BenchCosts>)[b.Value])) { }

    /// <summary>No bench: every config uses its runs' medians.</summary>
    public static StepCosts InRun { get; } = new(new Dictionary<string, IReadOnlyList<BenchCosts>>());

    /// <summary>The cost of optimizer <paramref name="a"/>'s step over <paramref name="b"/>'s on <paramref name="config"/>.</summary>
    public CostRatio Ratio(IReadOnlyList<CurveRun> runs, string config, string a, string b)
    {
        if (Bench.TryGetValue(config, out var benches) && benches.FirstOrDefault(x => x.Times(a) && x.Times(b)) is { } bench) return bench.Ratio(a, b);
        IReadOnlyCollection<double> Ms(string optimizer) => runs.Where(r => r.Config == config && r.Optimizer == optimizer).Select(r => r.MedianStepMs).ToList();
        return CostRatio.FromRuns(Ms(a), Ms(b));
    }
}
