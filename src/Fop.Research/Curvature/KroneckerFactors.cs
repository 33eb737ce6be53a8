using TorchSharp;
using static TorchSharp.torch;
using Fop.Research.Randomness;

namespace Fop.Research.Curvature;

/// <summary>
/// The Kronecker factors of one layer's Fisher block, F ~ A (x) G with A = E[a a^T] (inputs, bias column
/// included; averaged over conv positions) and G = E[g g^T] (per-example output gradients; summed over
/// positions). Statistics of one curvature step accumulate in scratch sums and only replace the running
/// estimate when <see cref="Commit"/> is called, so a step that is abandoned (non-finite) changes nothing.
/// </summary>
public sealed class KroneckerFactors : IDisposable
{
    // Bounds the unfolded patch matrix of a conv layer held at once (elements), so large batches stay in memory.
    const long ChunkElements = 1L << 24;

    Tensor? aSum, gSum;
    long aRows, gExamples;

    /// <summary>Creates empty factors for <paramref name="layer"/>.</summary>
    public KroneckerFactors(PreconditionedLayer layer) => Layer = layer;

    /// <summary>The layer these factors describe.</summary>
    public PreconditionedLayer Layer { get; }
    /// <summary>Running estimate of A (InDim x InDim), null before the first commit.</summary>
    public Tensor? A { get; private set; }
    /// <summary>Running estimate of G (Out x Out), null before the first commit.</summary>
    public Tensor? G { get; private set; }
    /// <summary>Number of commits so far.</summary>
    public long Updates { get; private set; }

    /// <summary>
    /// Adds the inputs of one forward call to the scratch sum of A; for a conv layer, <paramref name="positions"/> output
    /// positions drawn from <paramref name="random"/> stand for all of them (an unbiased estimate of the KFC factor).
    /// </summary>
    public void AddInputs(Tensor input, int? positions = null, SeededRandom? random = null)
    {
        using var scope = torch.NewDisposeScope();
        long n = input.shape[0];
        long total = RowsPerExample(input);
        Tensor? kept = null;
        if (Layer.Conv is not null && positions is int p && p < total)
        {
            kept = (random ?? throw new ArgumentException("keeping a subset of conv positions needs a random stream.")).Permutation(total, input.device).narrow(0, 0, p);
            total = p;
        }
        long perExample = Math.Max(1, total * Layer.InDim);
        long chunk = Math.Max(1, Math.Min(n, ChunkElements / perExample));
        for (long start = 0; start < n; start += chunk)
        {
            using var inner = torch.NewDisposeScope();
            var rows = Layer.InputRows(input.narrow(0, start, Math.Min(chunk, n - start)), kept);
            aRows += rows.shape[0];
            Accumulate(ref aSum, rows, 1.0);
        }
    }

    /// <summary>Adds output-gradient rows to the scratch sum of G, scaled by multiplier^2 (undoing a loss normalisation).</summary>
    public void AddOutputGradients(Tensor gradOutput, double multiplier)
    {
        using var scope = torch.NewDisposeScope();
        var rows = Layer.OutputRows(gradOutput);
        Accumulate(ref gSum, rows, multiplier * multiplier);
    }

    /// <summary>Counts examples whose output gradients were added (G is a mean over examples).</summary>
    public void AddExamples(long n) => gExamples += n;

    long RowsPerExample(Tensor input)
    {
        if (Layer.Conv is null) return input.numel() / input.shape[0] / input.shape[^1];
        var c = Layer.Conv;
        long h = input.shape[2], w = input.shape[3];
        var pad = c.padding ?? [0, 0];
        long ho = (h + 2 * pad[0] - c.dilation[0] * (c.kernel_size[0] - 1) - 1) / c.stride[0] + 1;
        long wo = (w + 2 * pad[1] - c.dilation[1] * (c.kernel_size[1] - 1) - 1) / c.stride[1] + 1;
        return ho * wo;
    }

    static void Accumulate(ref Tensor? sum, Tensor rows, double scale)
    {
        var gram = torch.mm(rows.t(), rows);
        if (scale != 1.0) gram.mul_(scale);
        if (sum is null) sum = gram.DetachFromDisposeScope();
        else sum.add_(gram);
    }

    /// <summary>Whether this step's scratch statistics are complete and finite, as a device bool scalar (no read).</summary>
    public Tensor PendingFiniteFlag()
    {
        if (aSum is null || gSum is null || aRows == 0 || gExamples == 0) return torch.tensor(false, device: (aSum ?? gSum)?.device ?? CPU);
        using var fa = aSum.isfinite().all();
        using var fg = gSum.isfinite().all();
        return fa.logical_and(fg);
    }

    /// <summary>This step's scratch sums of a a^T and g g^T (null before any were added), for reducing them over ranks in place.</summary>
    internal (Tensor? A, Tensor? G) ScratchSums => (aSum, gSum);
    /// <summary>This step's scratch counts: rows added to A's sum, examples added to G's.</summary>
    internal (long Rows, long Examples) ScratchCounts => (aRows, gExamples);
    /// <summary>Replaces the scratch counts by the job's totals (after the sums were reduced over ranks).</summary>
    internal void SetScratchCounts(long rows, long examples) => (aRows, gExamples) = (rows, examples);

    /// <summary>Whether any statistics were gathered since the last commit or discard.</summary>
    public bool HasPending => aSum is not null || gSum is not null;

    /// <summary>Turns the scratch sums into the new estimate: EMA with <paramref name="emaDecay"/>, or replacement when it is null.</summary>
    public void Commit(double? emaDecay)
    {
        if (aSum is null || gSum is null || aRows == 0 || gExamples == 0)
            throw new InvalidOperationException($"{Layer.Name}: no curvature statistics were gathered this step.");
        var aNew = aSum.div_(aRows);
        var gNew = gSum.div_(gExamples);
        aSum = gSum = null;
        aRows = gExamples = 0;
        if (emaDecay is double rho && A is not null && G is not null)
        {
            A.mul_(rho).add_(aNew, alpha: 1 - rho);
            G.mul_(rho).add_(gNew, alpha: 1 - rho);
            aNew.Dispose();
            gNew.Dispose();
        }
        else
        {
            A?.Dispose();
            G?.Dispose();
            A = aNew;
            G = gNew;
        }
        Updates++;
    }

    /// <summary>Drops this step's scratch statistics.</summary>
    public void Discard()
    {
        aSum?.Dispose();
        gSum?.Dispose();
        aSum = gSum = null;
        aRows = gExamples = 0;
    }

    /// <summary>Sets the running estimate (for state-dict loading).</summary>
    public void Restore(Tensor a, Tensor g, long updates)
    {
        A?.Dispose();
        G?.Dispose();
        A = a.DetachFromDisposeScope();
        G = g.DetachFromDisposeScope();
        Updates = updates;
    }

    /// <summary>kron(A, G): the dense Fisher block in the column-major vec convention (for tests; small layers only).</summary>
    public Tensor ToDense() => torch.kron(A ?? throw new InvalidOperationException("No factors yet."), G!);

    /// <inheritdoc />
    public void Dispose()
    {
        Discard();
        A?.Dispose();
        G?.Dispose();
    }
}
