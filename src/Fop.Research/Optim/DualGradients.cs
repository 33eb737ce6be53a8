using Fop.Research.Curvature;
using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Fop.Research.Optim;

/// <summary>The two gradients FOP compares: g1 and g2, one tensor per trainable parameter each, with the batch's loss.</summary>
public sealed record DualGradients(IReadOnlyList<Tensor> First, IReadOnlyList<Tensor> Second, double LossSum, long Correct, long Examples);

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
        return new DualGradients(g1, g2, first.LossSum + second.LossSum, first.Correct + second.Correct, n);
    }
}
