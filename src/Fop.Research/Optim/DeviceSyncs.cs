using TorchSharp;
using static TorchSharp.torch;

namespace Fop.Research.Optim;

/// <summary>The ways a step can make the host wait for a GPU.</summary>
public enum SyncKind
{
    /// <summary>Tensor values read to the host (<see cref="HostReads"/>).</summary>
    HostRead,
    /// <summary>An explicit device synchronise (the trainer's per-step clock, the bench's intervals).</summary>
    Synchronize,
    /// <summary>A host-to-device copy from pageable memory, which waits for the stream; the library makes none in a step.</summary>
    BlockingCopy,
    /// <summary>The error check libtorch makes after a Cholesky factorisation or an eigendecomposition (reads its info code).</summary>
    LinalgCheck,
    /// <summary>A collective under mpirun: a device buffer is staged through host memory and back.</summary>
    Collective,
}

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

/// <summary>
/// Every point at which the library makes the host wait for a GPU goes through here or <see cref="HostReads"/>, counted
/// per thread, so a test on a machine without a GPU sees what a step would wait on with one. The count is of call sites,
/// whatever the device: on the CPU they cost nothing, on CUDA each is a wait (an asynchronous copy is counted apart and
/// is not one). What cannot be counted here: libtorch's own synchronisations inside operations the library calls
/// (e.g. <c>nonzero</c>, <c>masked_select</c>: none is used in a step) and the CUDA caching allocator's occasional
/// <c>cudaFree</c> when it runs out of cached memory.
/// </summary>
public static class DeviceSyncs
{
    [ThreadStatic] static long[]? counts;

    static long[] Counts_ => counts ??= new long[Enum.GetValues<SyncKind>().Length + 1];
    const int Async = 5;

    /// <summary>The counts made on this thread so far.</summary>
    public static SyncCounts Counts
    {
        get
        {
            var c = Counts_;
            return new(c[(int)SyncKind.HostRead], c[(int)SyncKind.Synchronize], c[(int)SyncKind.BlockingCopy], c[(int)SyncKind.LinalgCheck], c[(int)SyncKind.Collective], c[Async]);
        }
    }

    /// <summary>Records one synchronisation of <paramref name="kind"/> (<paramref name="n"/> of them) made by the caller.</summary>
    public static void Note(SyncKind kind, int n = 1) => Counts_[(int)kind] += n;

    /// <summary>Waits for the work queued on <paramref name="device"/> (a no-op on the CPU, still counted), so a clock read after it times that work.</summary>
    public static void Synchronize(Device device)
    {
        Note(SyncKind.Synchronize);
        if (device.type == DeviceType.CUDA) torch.cuda.synchronize(device);
    }

    /// <summary>
    /// <paramref name="t"/> on <paramref name="device"/> as a new handle the caller owns, without making the host wait where
    /// that can be avoided: from the CPU to CUDA the values are pinned and copied asynchronously (the caching host allocator
    /// keeps the pinned block until the copy has run); already there, an alias. A copy from a GPU to the host is a read and
    /// is counted as one.
    /// </summary>
    public static Tensor To(Tensor t, Device device)
    {
        if (t.device_type == device.type && (device.type == DeviceType.CPU || device.index < 0 || t.device_index == device.index)) return t.alias();
        if (t.device_type == DeviceType.CPU && device.type == DeviceType.CUDA)
        {
            Counts_[Async]++;
            using var pinned = t.pin_memory();
            return pinned.to(device, non_blocking: true);
        }
        if (device.type == DeviceType.CPU) Note(SyncKind.HostRead);
        return t.to(device);
    }

    /// <summary>A tensor of <paramref name="values"/> (of <paramref name="dtype"/>) on <paramref name="device"/>, copied there without a wait.</summary>
    public static Tensor FromHost(double[] values, ScalarType dtype, Device device)
    {
        using var host = torch.tensor(values, dtype: dtype);
        return To(host, device);
    }

    /// <summary>A tensor of <paramref name="values"/> (int64) on <paramref name="device"/>, copied there without a wait.</summary>
    public static Tensor FromHost(long[] values, Device device)
    {
        using var host = torch.tensor(values);
        return To(host, device);
    }
}
