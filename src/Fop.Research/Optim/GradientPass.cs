using Fop.Research.Curvature;
using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Fop.Research.Optim;

/// <summary>Watches each micro-batch's forward and backward to gather curvature statistics.</summary>
public interface ICurvatureRecorder
{
    /// <summary>Called after the forward pass of a micro-batch, before the main backward.</summary>
    void BeforeBackward(Tensor outputs, Tensor targets);
    /// <summary>Called after the main backward of a micro-batch whose loss was divided by <paramref name="normalizer"/>.</summary>
    void AfterBackward(long normalizer, long examples);

    /// <summary>A recorder that records nothing (gradients only).</summary>
    static ICurvatureRecorder None { get; } = new NoRecorder();

    private sealed class NoRecorder : ICurvatureRecorder
    {
        public void BeforeBackward(Tensor outputs, Tensor targets) { }
        public void AfterBackward(long normalizer, long examples) { }
    }
}

/// <summary>Forward and backward over a batch in micro-batches, accumulating the gradient of the mean loss into .grad.</summary>
public static class GradientPass
{
    /// <summary>
    /// Adds the gradient of (sum of per-example losses over the batch) / <paramref name="normalizer"/> to each parameter's .grad,
    /// running at most <paramref name="microBatchSize"/> examples at once (0: all). Returns the loss sum (float64) and the
    /// correct count (int64) as 0-dimensional tensors on the batch's device: nothing is read back to the host here.
    /// </summary>
    public static (Tensor LossSum, Tensor Correct) Accumulate(Module<Tensor, Tensor> model, Likelihood likelihood, Tensor inputs, Tensor targets,
        int microBatchSize, long normalizer, ICurvatureRecorder? recorder = null, PhaseTimer? timer = null)
    {
        long n = inputs.shape[0];
        long chunk = microBatchSize <= 0 ? n : Math.Min(n, microBatchSize);
        var lossSum = torch.zeros(Array.Empty<long>(), ScalarType.Float64, inputs.device);
        var correct = torch.zeros(Array.Empty<long>(), ScalarType.Int64, inputs.device);
        for (long start = 0; start < n; start += chunk)
        {
            using var scope = torch.NewDisposeScope();
            long size = Math.Min(chunk, n - start);
            var x = inputs.narrow(0, start, size);
            var y = targets.narrow(0, start, size);
            Tensor outputs, sum;
            using (PhaseTimer.Time(timer, StepPhase.Forward))
            {
                outputs = model.call(x);
                sum = likelihood.LossSum(outputs, y);
                lossSum.add_(sum.detach().to_type(ScalarType.Float64));
                correct.add_(likelihood.CorrectCount(outputs.detach(), y));
            }
            if (recorder is not null)
                using (PhaseTimer.Time(timer, StepPhase.Curvature)) recorder.BeforeBackward(outputs, y);
            using (PhaseTimer.Time(timer, StepPhase.Backward)) (sum / normalizer).backward();
            if (recorder is not null)
                using (PhaseTimer.Time(timer, StepPhase.Curvature)) recorder.AfterBackward(normalizer, size);
        }
        return (lossSum, correct);
    }
}
