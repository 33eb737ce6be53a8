using System.Diagnostics;

namespace Fop.Research.Io;

/// <summary>
/// Crash points for the fault-injection tests, armed only by an environment variable, so that a separate process can be
/// killed at a precise moment (in the middle of writing a checkpoint) rather than only at a random time.
/// </summary>
public static class FaultInjection
{
    /// <summary>Environment variable: <c>N</c> kills the process (SIGKILL) halfway through writing its N-th checkpoint.</summary>
    public const string KillInCheckpointVariable = "FOP_FAULT_KILL_IN_CHECKPOINT";

    static readonly int killAt = int.TryParse(Environment.GetEnvironmentVariable(KillInCheckpointVariable), out var n) ? n : 0;
    static int checkpoints;

    /// <summary>Environment variable: <c>R:K</c> kills rank R of a multi-process job (SIGKILL) just before its K-th step.</summary>
    public const string KillRankVariable = "FOP_FAULT_KILL_RANK";

    static readonly (int Rank, long Step)? killRank = Environment.GetEnvironmentVariable(KillRankVariable)?.Split(':') is [var r, var k]
        && int.TryParse(r, out var rank) && long.TryParse(k, out var step) ? (rank, step) : null;

    /// <summary>Called by the trainer before each step of a multi-process job; kills this rank when armed for it.</summary>
    internal static void BeforeStep(int rank, long step)
    {
        if (killRank is not { } at || at.Rank != rank || at.Step != step) return;
        // The moment is printed so a test can time how fast the other ranks stop.
        Console.Error.WriteLine($"fault injection: killing rank {rank} before step {step} at unix ms {DateTimeOffset.UtcNow.ToUnixTimeMilliseconds()}");
        Console.Error.Flush();
        Process.GetCurrentProcess().Kill();
    }

    /// <summary>Called by the checkpoint writer with part of the file written; kills the process when armed for this write.</summary>
    internal static void InsideCheckpointWrite()
    {
        if (killAt > 0 && Interlocked.Increment(ref checkpoints) == killAt) Process.GetCurrentProcess().Kill();
    }
}
