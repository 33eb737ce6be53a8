using TorchSharp;
using static TorchSharp.torch;

namespace Fop.Research.Curvature;

/// <summary>
/// One layer's curvature block (kfac-jax's unit): its Kronecker factors A and G, the damped preconditioner last built from
/// them, its dense form for tests (<see cref="KroneckerPreconditioner.ToDense"/>), and its checkpoint entries. What
/// statistics go in, when they commit and who owns the block in a job is <see cref="KfacCurvature"/>'s business.
/// </summary>
public sealed class CurvatureBlock : IDisposable
{
    /// <summary>A block for <paramref name="layer"/>, with empty factors and no preconditioner.</summary>
    public CurvatureBlock(PreconditionedLayer layer)
    {
        Layer = layer;
        Factors = new KroneckerFactors(layer);
    }

    /// <summary>The layer.</summary>
    public PreconditionedLayer Layer { get; }
    /// <summary>Its Kronecker factors (committed, and this step's pending statistics).</summary>
    public KroneckerFactors Factors { get; }
    /// <summary>The damped preconditioner from the last inverse step that succeeded (null before one has).</summary>
    public KroneckerPreconditioner? Preconditioner { get; private set; }
    /// <summary>Whether the block has committed factors to decompose.</summary>
    public bool HasFactors => Factors.A is not null && Factors.G is not null;
    /// <summary>The prefix of the block's checkpoint entries.</summary>
    public string Key => $"curvature/{Layer.Name}/";

    /// <summary>
    /// Rebuilds the preconditioner from the committed factors at <paramref name="damping"/>. Returns whether a decomposition
    /// ran; a failed one keeps the previous preconditioner, and what happened either way is added to <paramref name="warnings"/>.
    /// </summary>
    public bool Rebuild(DampingForm form, double damping, long step, List<string> warnings)
    {
        if (!HasFactors) return false;
        try
        {
            var fresh = KroneckerPreconditioner.Build(form, Factors.A!, Factors.G!, damping, Layer.Name);
            if (fresh.UsedFloat64Retry) warnings.Add($"step {step}: {Layer.Name}: float32 decomposition failed; recomputed in float64.");
            Preconditioner?.Dispose();
            Preconditioner = fresh;
            return true;
        }
        catch (CurvatureException e)
        {
            warnings.Add($"step {step}: {e.Message} " + (Preconditioner is null
                ? "No earlier preconditioner exists: this layer takes the plain gradient until one succeeds."
                : "Keeping the previous preconditioner."));
            return false;
        }
    }

    /// <summary>F_damped^-1 V; the plain V (reported in <paramref name="warnings"/>) when no preconditioner exists yet.</summary>
    public Tensor Precondition(Tensor v, List<string> warnings)
    {
        if (Preconditioner is { } p) return p.Inverse(v);
        warnings.Add($"{Layer.Name}: no preconditioner available; plain gradient used.");
        return v.alias();
    }

    /// <summary>
    /// The block's checkpoint entries (key, shape, value): A, G and the update count, and the preconditioner's own inputs and
    /// damping when <paramref name="withPreconditioner"/> (it may predate the latest factors: EMA between inverse steps).
    /// </summary>
    public IReadOnlyList<(string Key, long[] Shape, Func<Tensor> Value)> StateEntries(bool withPreconditioner, Device device)
    {
        long a = Layer.InDim, g = Layer.OutFeatures;
        var entries = new List<(string, long[], Func<Tensor>)>
        {
            (Key + "A", [a, a], () => Factors.A!), (Key + "G", [g, g], () => Factors.G!),
            (Key + "updates", [], () => torch.tensor(Factors.Updates, device: device)),
        };
        if (withPreconditioner)
            entries.AddRange([(Key + "inverse_A", [a, a], () => Preconditioner!.SourceA), (Key + "inverse_G", [g, g], () => Preconditioner!.SourceG),
                (Key + "damping", [], () => torch.tensor(Preconditioner!.Damping, device: device))]);
        return entries;
    }

    /// <summary>Writes the block's entries into <paramref name="state"/> (nothing before its factors exist).</summary>
    public void Save(IDictionary<string, Tensor> state, Device device)
    {
        if (!HasFactors) return;
        foreach (var (key, _, value) in StateEntries(Preconditioner is not null, device)) state[key] = value();
    }

    /// <summary>Restores the factors and rebuilds the preconditioner they had (same inputs, same damping), so the next steps match exactly; false when the state has no entry for this block.</summary>
    public bool Load(IReadOnlyDictionary<string, Tensor> state, DampingForm form)
    {
        if (!state.TryGetValue(Key + "A", out var a)) return false;
        Factors.Restore(a.clone(), state[Key + "G"].clone(), state[Key + "updates"].item<long>());
        Preconditioner?.Dispose();
        Preconditioner = state.TryGetValue(Key + "damping", out var d)
            ? KroneckerPreconditioner.Build(form, state[Key + "inverse_A"], state[Key + "inverse_G"], d.item<double>(), Layer.Name)
            : null;
        return true;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        Factors.Dispose();
        Preconditioner?.Dispose();
    }
}
