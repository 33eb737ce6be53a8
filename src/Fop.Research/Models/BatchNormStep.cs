using TorchSharp;
using static TorchSharp.torch;

namespace Fop.Research.Models;

/// <summary>When BatchNorm's running statistics (running_mean, running_var, num_batches_tracked) change during a step.</summary>
public enum RunningStatistics
{
    /// <summary>Once per optimizer step, with the size-weighted mean of the step's chunk statistics; a refused step leaves them as they were.</summary>
    PerStep,
    /// <summary>Once per forward chunk (micro-batch, FOP half), as PyTorch does under gradient accumulation; a refused step still leaves them as they were.</summary>
    PerChunk,
}

/// <summary>
/// One optimizer step's BatchNorm running statistics. Every chunk of the step (micro-batch, FOP half) normalises with its
/// own batch statistics (ghost batches); with <see cref="RunningStatistics.PerStep"/> each chunk's forward starts from the
/// statistics saved at the start of the step and the step commits the size-weighted average of the chunks' results, i.e.
/// one momentum update with the mean of the chunk statistics. Disposed without <see cref="Commit"/> (a refused step), the
/// saved statistics are put back.
/// </summary>
public sealed class BatchNormStep : IDisposable
{
    static readonly string[] Names = ["running_mean", "running_var", "num_batches_tracked"];
    readonly List<(Tensor Buffer, Tensor Saved, Tensor? Sum)> buffers;
    readonly long examples;
    readonly RunningStatistics mode;
    bool committed;

    BatchNormStep(List<Tensor> found, long examples, RunningStatistics mode)
    {
        this.examples = examples;
        this.mode = mode;
        using var noGrad = torch.no_grad();
        buffers = found.Select(b => (b, b.detach().clone().DetachFromDisposeScope(),
            mode == RunningStatistics.PerStep && b.is_floating_point() ? torch.zeros_like(b).DetachFromDisposeScope() : null)).ToList();
    }

    /// <summary>Starts the step on a batch of <paramref name="examples"/>; null when the model has no BatchNorm statistics.</summary>
    public static BatchNormStep? Begin(nn.Module model, long examples, RunningStatistics mode)
    {
        if (!Enum.IsDefined(mode)) throw new ArgumentOutOfRangeException(nameof(mode), mode, "running statistics must be per_step or per_chunk.");
        var found = model.named_buffers().Where(b => Names.Contains(b.name[(b.name.LastIndexOf('.') + 1)..])).Select(b => b.buffer).ToList();
        return found.Count == 0 ? null : new BatchNormStep(found, examples, mode);
    }

    /// <summary>Before a chunk's forward: per step, the statistics go back to those saved at the start of the step.</summary>
    public void BeforeChunk()
    {
        if (mode != RunningStatistics.PerStep) return;
        using var noGrad = torch.no_grad();
        foreach (var (buffer, saved, _) in buffers) buffer.copy_(saved);
    }

    /// <summary>After the forward of a chunk of <paramref name="size"/> examples: per step, its statistics join the weighted sum.</summary>
    public void AfterChunk(long size)
    {
        if (mode != RunningStatistics.PerStep) return;
        using var noGrad = torch.no_grad();
        double weight = size / (double)examples;
        foreach (var (buffer, _, sum) in buffers) sum?.add_(buffer, alpha: weight);
    }

    /// <summary>Keeps the step's statistics: per step, the weighted average of the chunks' and one more tracked batch.</summary>
    public void Commit()
    {
        if (mode == RunningStatistics.PerStep)
        {
            using var noGrad = torch.no_grad();
            foreach (var (buffer, saved, sum) in buffers)
                if (sum is not null) buffer.copy_(sum);
                else buffer.copy_(saved + 1);
        }
        committed = true;
    }

    /// <summary>Puts the saved statistics back unless the step committed, and frees the copies.</summary>
    public void Dispose()
    {
        if (!committed)
        {
            using var noGrad = torch.no_grad();
            foreach (var (buffer, saved, _) in buffers) buffer.copy_(saved);
        }
        foreach (var (_, saved, sum) in buffers) { saved.Dispose(); sum?.Dispose(); }
        buffers.Clear();
    }
}
