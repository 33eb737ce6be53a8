using Fop.Research.Curvature;
using Fop.Research.Optim;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Fop.Research.Distributed;

/// <summary>One preconditioned layer's traffic in a data-parallel step: its parameters, its two factors and its update, and its owner.</summary>
/// <param name="Layer">Layer name.</param>
/// <param name="Parameters">Weight and bias elements (all-reduced as gradients every step).</param>
/// <param name="FactorElements">Elements of A and G (reduced to the owner on every curvature step).</param>
/// <param name="UpdateElements">Elements of the layer's update (broadcast from the owner every step).</param>
/// <param name="Owner">Rank that owns the layer.</param>
public sealed record LayerTraffic(string Layer, long Parameters, long FactorElements, long UpdateElements, int Owner);

/// <summary>Bytes one rank sends per optimizer step, by kind (bandwidth-optimal collectives).</summary>
/// <param name="Gradients">Gradient all-reduce (FOP: g1 and g2 slots, twice SGD's).</param>
/// <param name="Factors">Factor reductions to the owners, amortised over the curvature interval.</param>
/// <param name="Updates">Owners' broadcasts of the layer updates.</param>
public sealed record StepTraffic(double Gradients, double Factors, double Updates)
{
    /// <summary>All bytes per step.</summary>
    public double Total => Gradients + Factors + Updates;
}

/// <summary>
/// How the toolkit's data-parallel step communicates, worked out from a model's layer sizes, for any number of ranks: the
/// per-layer sizes (what each collective carries) and the bytes a rank sends per step with bandwidth-optimal algorithms
/// (ring all-reduce 2S(N-1)/N, reduce and broadcast S(N-1)/N for a message of S bytes), so the cost on many GPUs can be
/// read off without them.
/// </summary>
public static class CommunicationCost
{
    /// <summary>Every preconditioned layer of <paramref name="model"/> (KFAC's selection) with its sizes and owner among <paramref name="ranks"/>.</summary>
    public static IReadOnlyList<LayerTraffic> Layers(Module model, int ranks, KfacOptions? kfac = null)
    {
        var (layers, _) = (kfac ?? KfacOptions.Paper).Layers.Select(model);
        var owners = new LayerOwnership(layers.Select(l => (l.InDim, l.OutFeatures)).ToList(), ranks);
        return layers.Select((l, i) => new LayerTraffic(l.Name, l.Parameters.Sum(p => p.numel()), l.InDim * l.InDim + l.OutFeatures * l.OutFeatures,
            l.OutFeatures * l.InDim, owners.Owner(i))).ToList();
    }

    /// <summary>
    /// Bytes a rank sends per step for <paramref name="optimizer"/> on <paramref name="ranks"/> ranks with curvature every
    /// <paramref name="interval"/> steps; <paramref name="parameters"/> counts every trainable element (also the unpreconditioned ones).
    /// </summary>
    public static StepTraffic PerStep(string optimizer, IReadOnlyList<LayerTraffic> layers, long parameters, int ranks, int interval, int elementBytes = 4)
    {
        if (ranks < 2) return new StepTraffic(0, 0, 0);
        double share = (ranks - 1) / (double)ranks;
        double gradients = 2 * share * parameters * elementBytes * (optimizer == "fop" ? 2 : 1);
        if (optimizer is "sgd" or "adamw") return new StepTraffic(gradients, 0, 0);
        double factors = share * layers.Sum(l => l.FactorElements) * elementBytes / interval;
        double updates = share * layers.Sum(l => l.UpdateElements) * elementBytes;
        return new StepTraffic(gradients, factors, updates);
    }
}
