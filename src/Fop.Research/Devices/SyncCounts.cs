namespace Fop.Research.Devices;

/// <summary>How many host synchronisations of each kind, and how many asynchronous host-to-device copies, were made.</summary>
/// <param name="HostReads">Reads of tensor values to the host.</param>
/// <param name="Synchronizes">Explicit device synchronises.</param>
/// <param name="BlockingCopies">Host-to-device copies from pageable memory.</param>
/// <param name="LinalgChecks">Error checks of Cholesky factorisations and eigendecompositions.</param>
/// <param name="Collectives">Collectives over ranks.</param>
/// <param name="AsyncCopies">Host-to-device copies from pinned memory: they queue behind the device's work and make nothing wait.</param>
public readonly record struct SyncCounts(long HostReads, long Synchronizes, long BlockingCopies, long LinalgChecks, long Collectives, long AsyncCopies)
{
    /// <summary>Every synchronisation: all kinds but the asynchronous copies.</summary>
    public long Total => HostReads + Synchronizes + BlockingCopies + LinalgChecks + Collectives;

    /// <summary>The counts made between <paramref name="before"/> and <paramref name="after"/>.</summary>
    public static SyncCounts operator -(SyncCounts after, SyncCounts before) => new(after.HostReads - before.HostReads, after.Synchronizes - before.Synchronizes,
        after.BlockingCopies - before.BlockingCopies, after.LinalgChecks - before.LinalgChecks, after.Collectives - before.Collectives, after.AsyncCopies - before.AsyncCopies);

    /// <summary>One line for a table: the kinds that occurred.</summary>
    public override string ToString()
    {
        var parts = new List<string>();
        void Add(long n, string what) { if (n != 0) parts.Add($"{n} {what}"); }
        Add(HostReads, "read");
        Add(Synchronizes, "synchronise");
        Add(BlockingCopies, "blocking copy");
        Add(LinalgChecks, "linalg check");
        Add(Collectives, "collective");
        return parts.Count == 0 ? "none" : string.Join(", ", parts);
    }
}
