using Fop.Research.Distributed;
using Spectre.Console.Cli;

namespace Fop.Cli;

/// <summary>
/// `mpirun -np N fop distributed-check`: every rank trains its replica and the one-process reference on the same batches
/// and compares (SGD, AdamW, KFAC, FOP; BatchNorm; gathered checkpoint state); rank 0 prints; non-zero exit when one fails.
/// </summary>
internal sealed class DistributedCheckCommand : Command
{
    public override int Execute(CommandContext context, CancellationToken cancellation)
    {
        var parallel = Job.Parallel ?? throw new ArgumentException(
            "distributed-check runs under mpirun with several processes, e.g. mpirun -np 2 ./fop distributed-check (Open MPI: apt-get install openmpi-bin).");
        var results = DistributedCheck.Run(parallel, parallel.Rank == 0 ? Console.WriteLine : null);
        bool passed = results.All(r => r.Passed);
        if (parallel.Rank == 0) Console.WriteLine(passed ? $"all {results.Count} checks passed on {parallel.Size} ranks" : $"{results.Count(r => !r.Passed)} of {results.Count} checks FAILED on {parallel.Size} ranks");
        return passed ? 0 : 1;
    }
}
