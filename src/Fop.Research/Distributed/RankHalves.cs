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
        // One zeroed buffer [g1 slot | g2 slot | loss sum | correct]: this rank fills its half's slot, the sum over ranks
        // fills both, and g1 and g2 are returned as views of it (no further copies).
        long size = mine.Sum(t => t.numel());
        var buffer = torch.zeros(2 * size + 2, mine[0].dtype, mine[0].device);
        List<Tensor> Views(long offset) => mine.Select(t => { var v = buffer.narrow(0, offset, t.numel()).view(t.shape); offset += t.numel(); return v; }).ToList();
        var slot = Views(first ? 0 : size);
        for (int i = 0; i < mine.Count; i++) slot[i].copy_(mine[i]);
        var scalars = buffer.narrow(0, 2 * size, 2);
        scalars[0].copy_(lossSum);
        scalars[1].copy_(correct);
        parallel.Communicator.AllReduceSum(buffer);
        lossSum.copy_(scalars[0]);
        correct.copy_(scalars[1]);
        return new DualGradients(Views(0), Views(size), lossSum, correct, firstExamples, secondExamples);
    }
}
