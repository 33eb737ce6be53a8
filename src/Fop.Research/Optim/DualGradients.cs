using Fop.Research.Curvature;
using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Fop.Research.Optim;

/// <summary>
/// The two gradients FOP compares: g1 and g2 (each the mean gradient of its part of the batch), one tensor per trainable
/// parameter each, with the batch's loss sum (float64) and correct count (int64) as device scalars and how many examples each part had.
/// </summary>
public sealed record DualGradients(IReadOnlyList<Tensor> First, IReadOnlyList<Tensor> Second, Tensor LossSum, Tensor Correct, long FirstExamples, long SecondExamples)
{
    /// <summary>Examples in the whole batch.</summary>
    public long Examples => FirstExamples + SecondExamples;
    /// <summary>The weight of g1 in the full-batch mean: g_avg = w g1 + (1 - w) g2 with w = n1 / n (1/2 for equal halves).</summary>
    public double FirstWeight => FirstExamples / (double)Examples;
    /// <summary>The full-batch mean gradient of parameter <paramref name="i"/>, weighting each half by its size.</summary>
    public Tensor Average(int i) => First[i] * FirstWeight + Second[i] * (1 - FirstWeight);
}

/// <summary>
/// Where FOP's g1 and g2 come from. Here: the two halves of one batch. A multi-process trainer supplies them from even and
/// odd ranks instead, without touching the projection math.
/// </summary>
public interface IDualGradientSource
{
    /// <summary>
    /// Computes g1 and g2 for the batch through <paramref name="pass"/> (its recorder sees every chunk of both halves, so
    /// curvature comes from the whole batch); <paramref name="takeGradients"/> returns the accumulated gradients and clears them.
    /// </summary>
    DualGradients Compute(GradientPass pass, Tensor inputs, Tensor targets, Func<List<Tensor>> takeGradients);
}

/// <summary>
/// Splits the batch into a first and a second half with one backward pass each. By default the halves are equal (sizes
/// differ by at most one) and each is chunked on its own. With <see cref="AtChunkBoundary"/> the split falls on the
/// micro-batch boundary nearest the middle, so the forward chunks are exactly those of a whole-batch pass (KFAC's): a
/// BatchNorm model then sees the same ghost batches under FOP as under KFAC. With a single chunk (no micro-batching)
/// the halves are necessarily two separate forwards.
/// </summary>
public sealed class HalfBatchSplit(bool atChunkBoundary = false) : IDualGradientSource
{
    /// <summary>Equal halves, each chunked on its own.</summary>
    public static HalfBatchSplit Instance { get; } = new();

    /// <summary>Whether the split falls on a micro-batch boundary.</summary>
    public bool AtChunkBoundary => atChunkBoundary;

    /// <summary>Examples in the first half of a batch of <paramref name="n"/> run in chunks of <paramref name="chunk"/>.</summary>
    public long FirstHalf(long n, long chunk)
    {
        if (!atChunkBoundary || chunk >= n) return n / 2;
        long chunks = (long)Math.Round(n / 2.0 / chunk, MidpointRounding.AwayFromZero);
        return Math.Clamp(chunks, 1, (n - 1) / chunk) * chunk;
    }

    /// <inheritdoc />
    public DualGradients Compute(GradientPass pass, Tensor inputs, Tensor targets, Func<List<Tensor>> takeGradients)
    {
        long n = inputs.shape[0];
        if (n < 2) throw new ArgumentException($"FOP needs at least 2 examples per batch to form two halves, got {n}.");
        long half = FirstHalf(n, pass.ChunkSize(n));
        var first = pass.Accumulate(inputs.narrow(0, 0, half), targets.narrow(0, 0, half), half);
        var g1 = takeGradients();
        var second = pass.Accumulate(inputs.narrow(0, half, n - half), targets.narrow(0, half, n - half), n - half);
        var g2 = takeGradients();
        return new DualGradients(g1, g2, first.LossSum + second.LossSum, first.Correct + second.Correct, half, n - half);
    }
}
