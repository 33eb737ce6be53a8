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

    /// <summary>Called by the checkpoint writer with part of the file written; kills the process when armed for this write.</summary>
    internal static void InsideCheckpointWrite()
    {
        if (killAt > 0 && Interlocked.Increment(ref checkpoints) == killAt) Process.GetCurrentProcess().Kill();
    }
}
