using TorchSharp;
using static TorchSharp.torch;

namespace Fop.Research.Models;

/// <summary>
/// The model's buffers (BatchNorm running statistics) as they are now, put back on dispose: an extra pass in train mode
/// (a noise probe, a curvature subset, alpha's slope) then leaves the trajectory exactly as it was.
/// </summary>
public sealed class BufferSnapshot : IDisposable
{
    readonly List<(Tensor Buffer, Tensor Saved)> saved;

    /// <summary>Copies every buffer of <paramref name="model"/>.</summary>
    public BufferSnapshot(nn.Module model) =>
        saved = model.named_buffers().Select(b => (b.buffer, b.buffer.detach().clone().DetachFromDisposeScope())).ToList();

    /// <summary>Restores the copies and frees them.</summary>
    public void Dispose()
    {
        using (torch.no_grad()) foreach (var (buffer, copy) in saved) buffer.copy_(copy);
        foreach (var (_, copy) in saved) copy.Dispose();
        saved.Clear();
    }
}
