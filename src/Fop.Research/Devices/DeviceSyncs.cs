using TorchSharp;
using static TorchSharp.torch;

namespace Fop.Research.Devices;

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

    // One slot per kind of wait, then one for the asynchronous copies, which are not waits.
    static readonly int Async = Enum.GetValues<SyncKind>().Length;
    static long[] Counts_ => counts ??= new long[Async + 1];

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
