using static TorchSharp.torch;

namespace Fop.Research.Distributed;

/// <summary>
/// The collective operations of one training job's processes (ranks 0..Size-1). Buffers are single tensors (callers fuse
/// many small tensors into one, see <see cref="FusedBuffer"/>) of float32, float64 or int64, on any device; every rank
/// must make the same calls in the same order.
/// </summary>
public interface ICommunicator
{
    /// <summary>This process's rank.</summary>
    int Rank { get; }
    /// <summary>Number of processes in the job.</summary>
    int Size { get; }
    /// <summary>Replaces <paramref name="buffer"/> on every rank by the elementwise sum over ranks.</summary>
    void AllReduceSum(Tensor buffer);
    /// <summary>Replaces <paramref name="buffer"/> on every rank by the elementwise minimum over ranks.</summary>
    void AllReduceMin(Tensor buffer);
    /// <summary>Replaces <paramref name="buffer"/> on rank <paramref name="root"/> by the elementwise sum over ranks (other ranks' buffers are left as they were).</summary>
    void ReduceSum(Tensor buffer, int root);
    /// <summary>Copies rank <paramref name="root"/>'s <paramref name="buffer"/> into every other rank's.</summary>
    void Broadcast(Tensor buffer, int root);
    /// <summary>Waits until every rank has arrived.</summary>
    void Barrier();
    /// <summary>Bytes this process has handed to collectives so far (for the benchmark's communication share).</summary>
    long BytesCommunicated { get; }
    /// <summary>Seconds this process has spent inside collectives so far (waiting for slower ranks included).</summary>
    double SecondsCommunicating { get; }
}
