using Fop.Research.Optim;
using TorchSharp;
using static TorchSharp.torch;

namespace Fop.Research.Distributed;

/// <summary>
/// FOP's g1 and g2 from the ranks of a job (the paper's Algorithm 1): each rank holds rows of one half (even ranks the
/// first, odd ranks the second; <see cref="DataParallel.HalfShard"/>), takes one backward over them divided by its half's
/// size, and one fused all-reduce with each rank's gradient in its half's slot gives every rank both g1 and g2.
/// </summary>
public sealed class RankHalves(DataParallel parallel, long firstExamples, long secondExamples) : IDualGradientSource
{
    /// <inheritdoc />
    public DualGradients Compute(GradientPass pass, Tensor inputs, Tensor targets, Func<List<Tensor>> takeGradients)
    {
        bool first = parallel.Rank % 2 == 0;
        var (lossSum, correct) = pass.Accumulate(inputs, targets, first ? firstExamples : secondExamples);
        var mine = takeGradients();
        var g1 = first ? mine : mine.Select(t => torch.zeros_like(t)).ToList();
        var g2 = first ? mine.Select(t => torch.zeros_like(t)).ToList() : mine;
        var parts = g1.Concat(g2).Append(lossSum).Append(correct).ToList();
        using var buffer = FusedBuffer.Pack(parts, mine[0].dtype);
        parallel.Communicator.AllReduceSum(buffer);
        FusedBuffer.Unpack(buffer, parts);
        return new DualGradients(g1, g2, lossSum, correct, firstExamples, secondExamples);
    }
}
