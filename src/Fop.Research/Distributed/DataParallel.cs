using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Fop.Research.Distributed;

/// <summary>
/// Data-parallel training over the ranks of one job: which rows of a global batch each rank trains on, and the fused
/// collectives that keep every rank's replica identical (gradient sums, BatchNorm statistics, layer updates from their
/// owners, scalars read on rank 0). The optimizers and the trainer take it as the seam; a single process has none.
/// </summary>
public sealed class DataParallel(ICommunicator communicator)
{
    /// <summary>The job's collectives.</summary>
    public ICommunicator Communicator { get; } = communicator;
    /// <summary>This process's rank.</summary>
    public int Rank => Communicator.Rank;
    /// <summary>Number of ranks.</summary>
    public int Size => Communicator.Size;

    /// <summary>Rows [start, start + count) of a global batch of <paramref name="n"/> this rank trains on: contiguous, sizes differing by at most one.</summary>
    public (long Start, long Count) Shard(long n)
    {
        if (n < Size) throw new ArgumentException($"A batch of {n} examples cannot be shared by {Size} ranks: every rank needs at least one example.");
        return Split(0, n, Rank, Size);
    }

    /// <summary>
    /// FOP's rows (the paper's Algorithm 1): even ranks share the first half [0, <paramref name="firstHalf"/>), odd ranks the
    /// second, so each rank's gradient is a share of g1 or g2 and no extra backward is needed.
    /// </summary>
    public (long Start, long Count) HalfShard(long n, long firstHalf)
    {
        RequireEvenRanks();
        int groups = Size / 2;
        if (firstHalf < groups || n - firstHalf < groups) throw new ArgumentException($"A batch of {n} examples cannot give each of {Size} ranks at least one example of its half.");
        return Rank % 2 == 0 ? Split(0, firstHalf, Rank / 2, groups) : Split(firstHalf, n - firstHalf, Rank / 2, groups);
    }

    /// <summary>Refuses a job whose ranks cannot form FOP's two halves.</summary>
    public void RequireEvenRanks()
    {
        if (Size % 2 != 0) throw new ArgumentException($"FOP on several processes needs an even number of ranks (even ranks compute g1, odd ranks g2); this job has {Size}.");
    }

    static (long Start, long Count) Split(long start, long n, int part, int parts)
    {
        long a = start + n * part / parts, b = start + n * (part + 1) / parts;
        return (a, b - a);
    }

    /// <summary>
    /// Sums <paramref name="gradients"/> (in place: views of .grad stay views) and the loss sum and correct count over
    /// ranks, in one fused all-reduce. Each rank's gradients must already be divided by the global batch size, so the sum is the global mean.
    /// </summary>
    public void SumGradients(IReadOnlyList<Tensor> gradients, Tensor lossSum, Tensor correct)
    {
        var parts = gradients.Append(lossSum).Append(correct).ToList();
        using var buffer = FusedBuffer.Pack(parts, gradients[0].dtype);
        Communicator.AllReduceSum(buffer);
        FusedBuffer.Unpack(buffer, parts);
    }

    /// <summary>
    /// Averages the model's floating-point buffers (BatchNorm running statistics) over ranks, weighting each rank by the
    /// examples it saw this step: the result is what one process would hold after a step over the whole batch chunked as the ranks are.
    /// </summary>
    public void AverageBuffers(Module model, long localExamples)
    {
        var buffers = model.named_buffers().Select(b => b.buffer).Where(b => b.is_floating_point()).ToList();
        if (buffers.Count == 0) return;
        using var scope = torch.NewDisposeScope();
        // The count goes into the buffers' fused all-reduce on their device (a CPU scalar cannot join a CUDA buffer).
        var weighted = buffers.Select(b => b * localExamples).Append(torch.tensor((double)localExamples, device: buffers[0].device)).ToList();
        var buffer = FusedBuffer.Pack(weighted, ScalarType.Float64);
        Communicator.AllReduceSum(buffer);
        double total = Devices.HostReads.Scalar(buffer[-1]);
        using var noGrad = torch.no_grad();
        FusedBuffer.Unpack(buffer.narrow(0, 0, buffer.numel() - 1) / total, buffers);
    }

    /// <summary>
    /// Gives every rank each layer's tensor from the layer's owner: one fused broadcast per owning rank (other ranks'
    /// entries are overwritten in place, so they may hold placeholders of the right shape).
    /// </summary>
    public void BroadcastFromOwners(IReadOnlyList<Tensor> perLayer, LayerOwnership ownership)
    {
        for (int owner = 0; owner < Size; owner++)
        {
            var mine = ownership.LayersOf(owner).Select(i => perLayer[i]).ToList();
            if (mine.Count == 0) continue;
            using var buffer = FusedBuffer.Pack(mine, mine[0].dtype);
            Communicator.Broadcast(buffer, owner);
            if (Rank != owner) FusedBuffer.Unpack(buffer, mine);
        }
    }

    /// <summary>Rank 0's values of <paramref name="values"/> on every rank (evaluations, so that every rank takes the same decisions).</summary>
    public double[] FromRoot(params double[] values)
    {
        using var buffer = torch.tensor(values, dtype: ScalarType.Float64);
        Communicator.Broadcast(buffer, 0);
        return buffer.data<double>().ToArray();
    }

    /// <summary>Whether <paramref name="flag"/> holds on every rank (one all-reduce).</summary>
    public bool All(bool flag)
    {
        using var buffer = torch.tensor(new long[] { flag ? 1 : 0 });
        Communicator.AllReduceMin(buffer);
        return buffer.data<long>()[0] == 1;
    }
}
