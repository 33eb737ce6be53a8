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
    /// <summary>Computes g1 and g2 for the batch; the recorder sees every micro-batch of both halves (curvature from the whole batch); <paramref name="timer"/> (optional) gets the phase times.</summary>
    DualGradients Compute(Module<Tensor, Tensor> model, Likelihood likelihood, Tensor inputs, Tensor targets, int microBatchSize,
        Func<List<Tensor>> readAndZeroGradients, ICurvatureRecorder recorder, PhaseTimer? timer = null);
}

/// <summary>Splits the batch into its first and second half (sizes differ by at most one) with one backward pass each.</summary>
public sealed class HalfBatchSplit : IDualGradientSource
{
    /// <summary>The shared instance.</summary>
    public static HalfBatchSplit Instance { get; } = new();

    /// <inheritdoc />
    public DualGradients Compute(Module<Tensor, Tensor> model, Likelihood likelihood, Tensor inputs, Tensor targets, int microBatchSize,
        Func<List<Tensor>> readAndZeroGradients, ICurvatureRecorder recorder, PhaseTimer? timer = null)
    {
        long n = inputs.shape[0];
        if (n < 2) throw new ArgumentException($"FOP needs at least 2 examples per batch to form two halves, got {n}.");
        long half = n / 2;
        var first = GradientPass.Accumulate(model, likelihood, inputs.narrow(0, 0, half), targets.narrow(0, 0, half), microBatchSize, half, recorder, timer);
        var g1 = readAndZeroGradients();
        var second = GradientPass.Accumulate(model, likelihood, inputs.narrow(0, half, n - half), targets.narrow(0, half, n - half), microBatchSize, n - half, recorder, timer);
        var g2 = readAndZeroGradients();
        return new DualGradients(g1, g2, first.LossSum + second.LossSum, first.Correct + second.Correct, half, n - half);
    }
}
