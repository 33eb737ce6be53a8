using TorchSharp;
using static TorchSharp.torch;

namespace Fop.Research.Distributed;

/// <summary>
/// Many tensors as one flat buffer, so a collective is one call instead of one per tensor (latency dominates small
/// messages): <see cref="Pack"/> copies them in order into a 1-D tensor, <see cref="Unpack"/> copies the buffer back.
/// </summary>
public static class FusedBuffer
{
    /// <summary>One 1-D tensor of <paramref name="dtype"/> holding every part's values in order (parts of any shape and device; the buffer is on the first part's device).</summary>
    public static Tensor Pack(IReadOnlyList<Tensor> parts, ScalarType dtype)
    {
        if (parts.Count == 0) return torch.empty(0, dtype);
        using var scope = torch.NewDisposeScope();
        var device = parts[0].device;
        return torch.cat(parts.Select(p => p.detach().reshape(-1).to(dtype, device)).ToArray()).MoveToOuterDisposeScope();
    }

    /// <summary>Copies consecutive pieces of <paramref name="buffer"/> into <paramref name="parts"/> (in place, converting dtype and device).</summary>
    public static void Unpack(Tensor buffer, IReadOnlyList<Tensor> parts)
    {
        long offset = 0;
        using var noGrad = torch.no_grad();
        foreach (var p in parts)
        {
            long n = p.numel();
            using var piece = buffer.narrow(0, offset, n).view(p.shape);
            p.copy_(piece);
            offset += n;
        }
        if (offset != buffer.numel()) throw new ArgumentException($"Fused buffer of {buffer.numel()} elements unpacked into parts of {offset}.");
    }
}
