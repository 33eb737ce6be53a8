using Fop.Research.Distributed;

namespace Fop.Cli;

/// <summary>The multi-process job this `fop` process belongs to, when mpirun started it with several ranks (null otherwise).</summary>
internal static class Job
{
    static readonly Lazy<DataParallel?> parallel = new(() => MpiCommunicator.FromEnvironment() is { } c ? new DataParallel(c) : null);

    /// <summary>The job's data-parallel context, or null for a single process.</summary>
    public static DataParallel? Parallel => parallel.Value;

    /// <summary>Whether this process prints (a single process, or rank 0 of a job).</summary>
    public static bool Speaks => Parallel is null || Parallel.Rank == 0;

    /// <summary>Commands that run on several processes; any other command under mpirun with several ranks is refused.</summary>
    public static readonly string[] Commands = ["train", "bench", "distributed-check"];
}
