using System.Runtime.InteropServices;

namespace Fop.Research.Distributed;

/// <summary>
/// The few Open MPI calls the toolkit needs, bound directly to libmpi.so.40 (Open MPI 4.x). Open MPI's handles are
/// pointers to exported structures (MPI_COMM_WORLD is &amp;ompi_mpi_comm_world), so they are read with
/// <see cref="NativeLibrary.GetExport"/>; MPI.NET's integer handles (MPICH/Microsoft MPI) crash against it.
/// </summary>
internal static class OpenMpi
{
    internal const string Library = "libmpi.so.40";
    static readonly Lazy<IntPtr> handle = new(() =>
        NativeLibrary.TryLoad(Library, out var h) ? h
            : throw new DllNotFoundException($"{Library} not found: install Open MPI (Debian/Ubuntu: apt-get install openmpi-bin libopenmpi3) to train on several processes."));

    /// <summary>Whether libmpi can be loaded on this machine.</summary>
    internal static bool Available => NativeLibrary.TryLoad(Library, out _);

    static IntPtr Export(string name) => NativeLibrary.GetExport(handle.Value, name);

    internal static IntPtr CommWorld => Export("ompi_mpi_comm_world");
    internal static IntPtr Float => Export("ompi_mpi_float");
    internal static IntPtr Double => Export("ompi_mpi_double");
    internal static IntPtr Int64 => Export("ompi_mpi_int64_t");
    internal static IntPtr Sum => Export("ompi_mpi_op_sum");
    internal static IntPtr Min => Export("ompi_mpi_op_min");
    /// <summary>MPI_IN_PLACE in Open MPI.</summary>
    internal static readonly IntPtr InPlace = 1;
    /// <summary>MPI_THREAD_FUNNELED: only the main thread calls MPI (the prefetch thread never does).</summary>
    internal const int ThreadFunneled = 1;

    internal static void EnsureLoaded() => _ = handle.Value;

    [DllImport(Library)] internal static extern int MPI_Initialized(out int flag);
    [DllImport(Library)] internal static extern int MPI_Finalized(out int flag);
    [DllImport(Library)] internal static extern int MPI_Init_thread(IntPtr argc, IntPtr argv, int required, out int provided);
    [DllImport(Library)] internal static extern int MPI_Finalize();
    [DllImport(Library)] internal static extern int MPI_Comm_rank(IntPtr comm, out int rank);
    [DllImport(Library)] internal static extern int MPI_Comm_size(IntPtr comm, out int size);
    [DllImport(Library)] internal static extern int MPI_Allreduce(IntPtr send, IntPtr recv, int count, IntPtr datatype, IntPtr op, IntPtr comm);
    [DllImport(Library)] internal static extern int MPI_Reduce(IntPtr send, IntPtr recv, int count, IntPtr datatype, IntPtr op, int root, IntPtr comm);
    [DllImport(Library)] internal static extern int MPI_Bcast(IntPtr buffer, int count, IntPtr datatype, int root, IntPtr comm);
    [DllImport(Library)] internal static extern int MPI_Barrier(IntPtr comm);
    [DllImport(Library)] internal static extern int MPI_Abort(IntPtr comm, int code);
}
