using TorchSharp;
using static TorchSharp.torch;
using Fop.Research.Randomness;

namespace Fop.Research.Data;

/// <summary>
/// The order in which an epoch visits the training set: a permutation that depends only on the seed and
/// the epoch, so a run resumed mid-epoch sees exactly the batches an uninterrupted run would.
/// </summary>
public static class BatchOrder
{
    /// <summary>
    /// Number of steps in an epoch of <paramref name="count"/> examples. The last batch may be smaller, but a last batch of a
    /// single example is dropped: FOP cannot split it into two halves and BatchNorm cannot normalise it.
    /// </summary>
    public static int StepsPerEpoch(int count, int batchSize) =>
        batchSize > 1 && count % batchSize == 1 && count > 1 ? count / batchSize : (count + batchSize - 1) / batchSize;

    /// <summary>A non-negative seed mixed from a run seed and stream numbers (epoch, step, purpose), for any random source.</summary>
    public static long StreamSeed(long seed, params long[] stream)
    {
        // SplitMix64 mixing keeps streams for different (epoch, step) far apart.
        ulong z = (ulong)seed;
        foreach (var s in stream) z = Mix(z ^ Mix((ulong)s + 0x9E3779B97F4A7C15UL));
        return (long)(Mix(z) >> 1);
    }

    static ulong Mix(ulong z)
    {
        z += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>The shuffled indices of one epoch, on <paramref name="device"/> (default the CPU).</summary>
    public static Tensor Permutation(int count, long seed, int epoch, Device? device = null)
    {
        using var random = new SeededRandom(seed, RandomPurpose.EpochOrder, epoch);
        return random.Permutation(count, device ?? torch.CPU);
    }

    /// <summary>Indices of batch <paramref name="step"/> of an epoch, given that epoch's permutation.</summary>
    public static Tensor BatchIndices(Tensor permutation, int step, int batchSize)
    {
        long n = permutation.shape[0];
        long start = (long)step * batchSize;
        if (start >= n) throw new ArgumentOutOfRangeException(nameof(step), step, $"Step {step} is past the end of an epoch of {n} examples.");
        return permutation.narrow(0, start, Math.Min(batchSize, n - start));
    }
}
