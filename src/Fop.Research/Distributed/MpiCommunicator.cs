using System.Diagnostics;
using System.Runtime.InteropServices;
using TorchSharp;
using static TorchSharp.torch;

namespace Fop.Research.Distributed;

/// <summary>
/// <see cref="ICommunicator"/> over Open MPI's MPI_COMM_WORLD, zero-copy on contiguous CPU tensors (device tensors go
/// through a CPU copy: no CUDA-aware MPI is assumed). Created once per process by <see cref="FromEnvironment"/> when the
/// process was started by mpirun with more than one rank; MPI is finalised when the process exits normally.
/// </summary>
public sealed class MpiCommunicator : ICommunicator
{
    /// <summary>Environment variable mpirun (Open MPI) sets to the job's size.</summary>
    public const string SizeVariable = "OMPI_COMM_WORLD_SIZE";
    static MpiCommunicator? instance;
    static volatile bool terminating;
    static PosixSignalRegistration? stopRegistration;
    readonly IntPtr world, sum, min;
    readonly Stopwatch clock = new();
    long bytes;

    MpiCommunicator()
    {
        OpenMpi.EnsureLoaded();
        Check(OpenMpi.MPI_Initialized(out int initialised), "MPI_Initialized");
        if (initialised == 0) Check(OpenMpi.MPI_Init_thread(IntPtr.Zero, IntPtr.Zero, OpenMpi.ThreadFunneled, out _), "MPI_Init_thread");
        world = OpenMpi.CommWorld;
        sum = OpenMpi.Sum;
        min = OpenMpi.Min;
        Check(OpenMpi.MPI_Comm_rank(world, out int rank), "MPI_Comm_rank");
        Check(OpenMpi.MPI_Comm_size(world, out int size), "MPI_Comm_size");
        Rank = rank;
        Size = size;
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            // Finalising waits for the other ranks; after mpirun has told this one to stop (a rank failed), it would hang.
            if (!terminating && OpenMpi.MPI_Finalized(out int done) == 0 && done == 0) OpenMpi.MPI_Finalize();
        };
        // mpirun stops the surviving ranks with SIGTERM when one rank dies: say so on every rank, then leave at once.
        // Kept in a field: a registration that is collected is unregistered, and a long job would lose this message.
        stopRegistration = PosixSignalRegistration.Create(PosixSignal.SIGTERM, context =>
        {
            terminating = true;
            Console.Error.WriteLine($"rank {Rank} of {Size}: stopped by mpirun because another rank of this job failed or was killed (its error is above or in mpirun's message). " +
                                    "Nothing after the last checkpoint is kept. If that error names an input (a config, a rank count, a file), fix it first; " +
                                    "if a rank was killed or a machine failed, run the same command again to resume from the last checkpoint.");
            Console.Error.Flush();
            context.Cancel = false;
            DeleteScratch();
            Exit(143);
        });
    }

    /// <summary>
    /// The job's communicator when this process was started by mpirun with several ranks (Open MPI must be installed);
    /// null for a plain single process, which then runs the unchanged single-process code.
    /// </summary>
    public static MpiCommunicator? FromEnvironment()
    {
        if (!int.TryParse(Environment.GetEnvironmentVariable(SizeVariable), out int size) || size <= 1) return null;
        return instance ??= new MpiCommunicator();
    }

    /// <summary>
    /// Ends the whole job after an error on this rank (MPI_Abort): the other ranks may be waiting in a collective for this
    /// one, and a normal exit would wait for them in MPI_Finalize forever. No-op outside a job.
    /// </summary>
    public static void AbortJob(int code)
    {
        if (instance is null) return;
        terminating = true;
        DeleteScratch();
        Console.Out.Flush();
        Console.Error.Flush();
        OpenMpi.MPI_Abort(instance.world, code);
    }

    static readonly System.Collections.Concurrent.ConcurrentDictionary<string, bool> scratch = new();

    /// <summary>
    /// A temporary folder of this rank that must not outlive the job: deleted through <see cref="Forget"/> normally, and here
    /// when the job is aborted or stopped by mpirun (both leave the process without running its finally blocks).
    /// </summary>
    public static void DeleteOnStop(string dir) => scratch[dir] = true;

    /// <summary>Deletes <paramref name="dir"/> now and no longer on stop.</summary>
    public static void Forget(string dir)
    {
        scratch.TryRemove(dir, out _);
        try { if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }

    static void DeleteScratch()
    {
        foreach (var dir in scratch.Keys) Forget(dir);
    }

    /// <summary>Whether Open MPI's library can be loaded here.</summary>
    public static bool Available => OpenMpi.Available;

    /// <inheritdoc />
    public int Rank { get; }
    /// <inheritdoc />
    public int Size { get; }
    /// <inheritdoc />
    public long BytesCommunicated => bytes;
    /// <inheritdoc />
    public double SecondsCommunicating => clock.Elapsed.TotalSeconds;

    /// <inheritdoc />
    public void AllReduceSum(Tensor buffer) => OnHost(buffer, true, (p, n, t) => OpenMpi.MPI_Allreduce(OpenMpi.InPlace, p, n, t, sum, world), "MPI_Allreduce");
    /// <inheritdoc />
    public void AllReduceMin(Tensor buffer) => OnHost(buffer, true, (p, n, t) => OpenMpi.MPI_Allreduce(OpenMpi.InPlace, p, n, t, min, world), "MPI_Allreduce");
    /// <inheritdoc />
    public void ReduceSum(Tensor buffer, int root) => OnHost(buffer, true, (p, n, t) =>
        Rank == root ? OpenMpi.MPI_Reduce(OpenMpi.InPlace, p, n, t, sum, root, world) : OpenMpi.MPI_Reduce(p, IntPtr.Zero, n, t, sum, root, world), "MPI_Reduce", copyBack: Rank == root);
    /// <inheritdoc />
    public void Broadcast(Tensor buffer, int root) => OnHost(buffer, Rank == root, (p, n, t) => OpenMpi.MPI_Bcast(p, n, t, root, world), "MPI_Bcast", copyBack: Rank != root);

    /// <inheritdoc />
    public void Barrier()
    {
        clock.Start();
        try { Check(OpenMpi.MPI_Barrier(world), "MPI_Barrier"); }
        finally { clock.Stop(); }
    }

    /// <summary>
    /// Runs <paramref name="call"/> on the buffer's memory in pieces of at most 2^30 elements (MPI counts are ints); a
    /// device or non-contiguous buffer is staged through a contiguous CPU copy (<paramref name="copyIn"/>: whether its
    /// values are needed, <paramref name="copyBack"/>: whether the result is).
    /// </summary>
    void OnHost(Tensor buffer, bool copyIn, Func<IntPtr, int, IntPtr, int> call, string name, bool copyBack = true)
    {
        var (datatype, size) = buffer.dtype switch
        {
            ScalarType.Float32 => (OpenMpi.Float, 4),
            ScalarType.Float64 => (OpenMpi.Double, 8),
            ScalarType.Int64 => (OpenMpi.Int64, 8),
            _ => throw new ArgumentException($"{name}: buffers must be float32, float64 or int64, not {buffer.dtype}."),
        };
        // On a GPU the device buffer is staged through host memory and back: a wait, counted for every collective.
        Devices.DeviceSyncs.Note(Devices.SyncKind.Collective);
        bool staged = buffer.device_type != DeviceType.CPU || !buffer.is_contiguous();
        using var host = staged ? (copyIn ? buffer.to(CPU).contiguous() : torch.empty(buffer.shape, buffer.dtype)) : buffer.alias();
        long count = host.numel();
        clock.Start();
        try
        {
            IntPtr start = DataPointer(host, size);
            const long piece = 1L << 30;
            for (long offset = 0; offset < count; offset += piece)
            {
                int n = (int)Math.Min(piece, count - offset);
                Check(call(start + (nint)(offset * size), n, datatype), name);
            }
            bytes += count * size;
        }
        finally { clock.Stop(); }
        if (staged && copyBack) buffer.copy_(host);
    }

    static IntPtr DataPointer(Tensor t, int elementSize)
    {
        IntPtr basePtr = t.dtype switch
        {
            ScalarType.Float32 => Pointer<float>(t),
            ScalarType.Float64 => Pointer<double>(t),
            _ => Pointer<long>(t),
        };
        return basePtr + (nint)(t.storage_offset() * elementSize);
    }

    static IntPtr Pointer<T>(Tensor t) where T : unmanaged
    {
        using var storage = t.storage<T>();
        return storage.data_ptr();
    }

    [DllImport("libc", EntryPoint = "_exit")]
    static extern void Exit(int status);

    static void Check(int code, string call)
    {
        // Open MPI's default error handler aborts the job before a failing call returns; a code here means a handler was changed.
        if (code != 0) throw new InvalidOperationException($"{call} failed with MPI error code {code}.");
    }
}
