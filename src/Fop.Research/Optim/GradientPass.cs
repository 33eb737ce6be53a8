using Fop.Research.Diagnostics;
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

/// <summary>
/// How one step runs forward and backward over (part of) its batch: the model and its loss, chunks of at most
/// <see cref="MicroBatchSize"/> examples, who watches each chunk (curvature), the phase timer and the step's BatchNorm statistics.
/// </summary>
public sealed record GradientPass(Module<Tensor, Tensor> Model, Likelihood Likelihood, int MicroBatchSize)
{
    /// <summary>Sees every chunk's forward and backward (KFAC's statistics); null: nobody.</summary>
    public ICurvatureRecorder? Recorder { get; init; }
    /// <summary>Gets the phase times, when set.</summary>
    public PhaseTimer? Timer { get; init; }
    /// <summary>The step's BatchNorm running statistics, told about every chunk (null: the model has none, or nobody tracks them).</summary>
    public Models.BatchNormStep? BatchNorm { get; init; }

    /// <summary>The chunk size for <paramref name="n"/> examples: the micro-batch size, or all of them.</summary>
    public long ChunkSize(long n) => MicroBatchSize <= 0 ? n : Math.Min(n, MicroBatchSize);

    /// <summary>
    /// Adds the gradient of (sum of per-example losses over the batch) / <paramref name="normalizer"/> to each parameter's .grad,
    /// chunk by chunk. Returns the loss sum (float64) and the correct count (int64) as 0-dimensional tensors on the batch's
    /// device: nothing is read back to the host here.
    /// </summary>
    public (Tensor LossSum, Tensor Correct) Accumulate(Tensor inputs, Tensor targets, long normalizer)
    {
        long n = inputs.shape[0];
        long chunk = ChunkSize(n);
        var lossSum = torch.zeros(Array.Empty<long>(), ScalarType.Float64, inputs.device);
        var correct = torch.zeros(Array.Empty<long>(), ScalarType.Int64, inputs.device);
        for (long start = 0; start < n; start += chunk)
        {
            using var scope = torch.NewDisposeScope();
            long size = Math.Min(chunk, n - start);
            var x = inputs.narrow(0, start, size);
            var y = targets.narrow(0, start, size);
            Tensor outputs, sum;
            using (PhaseTimer.Time(Timer, StepPhase.Forward))
            {
                BatchNorm?.BeforeChunk();
                outputs = Model.call(x);
                BatchNorm?.AfterChunk(size);
                sum = Likelihood.LossSum(outputs, y);
                lossSum.add_(sum.detach().to_type(ScalarType.Float64));
                correct.add_(Likelihood.CorrectCount(outputs.detach(), y));
            }
            if (Recorder is not null)
                using (PhaseTimer.Time(Timer, StepPhase.Curvature)) Recorder.BeforeBackward(outputs, y);
            using (PhaseTimer.Time(Timer, StepPhase.Backward)) (sum / normalizer).backward();
            if (Recorder is not null)
                using (PhaseTimer.Time(Timer, StepPhase.Curvature)) Recorder.AfterBackward(normalizer, size);
        }
        return (lossSum, correct);
    }
}
