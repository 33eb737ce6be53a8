namespace Fop.Research.Distributed;

/// <summary>
/// Which rank owns each preconditioned layer (reduces its factors, decomposes them, computes its update and broadcasts
/// it; KAISA's owner-computes). Balanced by cost: layers in decreasing order of n^3 of their larger factor, each to the
/// rank with the least cost so far (the lower rank on a tie), so the eigendecompositions take about equal time on every rank.
/// </summary>
public sealed class LayerOwnership
{
    readonly int[] owners;

    /// <summary>Assigns layers with the given factor sizes (input dimension, output dimension) to <paramref name="ranks"/> ranks.</summary>
    public LayerOwnership(IReadOnlyList<(long InDim, long OutDim)> sizes, int ranks)
    {
        if (ranks < 1) throw new ArgumentOutOfRangeException(nameof(ranks), ranks, "at least one rank.");
        owners = new int[sizes.Count];
        var load = new double[ranks];
        Costs = sizes.Select(s => Math.Pow(Math.Max(s.InDim, s.OutDim), 3)).ToArray();
        foreach (int i in Enumerable.Range(0, sizes.Count).OrderByDescending(i => Costs[i]).ThenBy(i => i))
        {
            int r = Enumerable.Range(0, ranks).MinBy(k => (load[k], k));
            owners[i] = r;
            load[r] += Costs[i];
        }
        Loads = load;
    }

    /// <summary>The owner of layer <paramref name="layer"/>.</summary>
    public int Owner(int layer) => owners[layer];
    /// <summary>Layers owned by <paramref name="rank"/>, in layer order.</summary>
    public IReadOnlyList<int> LayersOf(int rank) => Enumerable.Range(0, owners.Length).Where(i => owners[i] == rank).ToList();
    /// <summary>Decomposition cost (n^3 of the larger factor) per layer.</summary>
    public IReadOnlyList<double> Costs { get; }
    /// <summary>Total cost per rank.</summary>
    public IReadOnlyList<double> Loads { get; }
    /// <summary>Number of ranks.</summary>
    public int Ranks => Loads.Count;
}
