using TorchSharp;
using static TorchSharp.torch;

namespace Fop.Research.Devices;

/// <summary>Turns cpu / cuda / auto into a TorchSharp device, failing clearly when CUDA was asked for and is absent.</summary>
public static class DeviceChoice
{
    static readonly Lazy<bool> cuda = new(() =>
    {
        // A libtorch loaded from the machine (FopLibtorch=system) registers its CUDA backend only when asked to.
        try { torch.InitializeDeviceType(DeviceType.CUDA); }
        catch (Exception e) when (e is NotSupportedException or InvalidOperationException or DllNotFoundException or TypeInitializationException) { return false; }
        return torch.cuda.is_available();
    });

    /// <summary>Whether a CUDA device can be used by this process (loads libtorch's CUDA backend once, when the libtorch has one).</summary>
    public static bool CudaAvailable => cuda.Value;

    /// <summary>The device for <paramref name="name"/>; cuda where CUDA is absent is an <see cref="ArgumentException"/> (a setting this machine cannot honour).</summary>
    public static Device Resolve(string name) => name switch
    {
        "cpu" => torch.CPU,
        "cuda" => CudaAvailable ? LocalCuda()
            : throw new ArgumentException("device=cuda but CUDA is not available: build with -p:FopLibtorch=cuda (TorchSharp-cuda-linux) or -p:FopLibtorch=system (the machine's own libtorch) on a machine with an NVIDIA GPU (docs/cuda.md), or use --device cpu."),
        "auto" => CudaAvailable ? LocalCuda() : torch.CPU,
        _ => throw new ArgumentException($"device '{name}' is not cpu, cuda or auto."),
    };

    /// <summary>
    /// The GPU of this process: under mpirun each rank of a machine takes its own (Open MPI's local rank modulo the GPUs the
    /// machine has), so a job with one rank per GPU uses them all instead of crowding onto GPU 0.
    /// </summary>
    static Device LocalCuda() => new(DeviceType.CUDA, CudaIndex(LocalRank, (int)torch.cuda.device_count()));

    /// <summary>This process's rank among the job's processes on this machine (0 outside mpirun).</summary>
    public static int LocalRank => int.TryParse(Environment.GetEnvironmentVariable("OMPI_COMM_WORLD_LOCAL_RANK"), out int r) && r >= 0 ? r : 0;

    /// <summary>The CUDA device index for <paramref name="localRank"/> on a machine with <paramref name="devices"/> GPUs.</summary>
    public static int CudaIndex(int localRank, int devices) => devices <= 0 ? 0 : localRank % devices;

    /// <summary>
    /// Sets the TensorFloat-32 policy of CUDA matmuls and cuDNN convolutions for this process (a no-op on the CPU). Off means
    /// full float32, which the CPU/CUDA agreement check's tolerance assumes; on is faster on Ampere and later GPUs and
    /// rounds products to a 10-bit mantissa. PyTorch's defaults differ between matmuls (off) and cuDNN (on); the toolkit
    /// sets both explicitly so a run's config says what it computed with.
    /// </summary>
    public static void SetTf32(Device device, bool allow)
    {
        if (device.type != DeviceType.CUDA) return;
        torch.backends.cuda.matmul.allow_tf32 = allow;
        torch.backends.cudnn.allow_tf32 = allow;
    }

    /// <summary>The largest relative difference between CPU and CUDA weights after a few steps that still counts as agreement under a TF32 policy.</summary>
    public static double AgreementTolerance(bool tf32) => tf32 ? 1e-2 : 1e-3;

    /// <summary>Waits for the work queued on <paramref name="device"/> (a no-op on the CPU), so a clock read after it times that work.</summary>
    public static void Synchronize(Device device) => Devices.DeviceSyncs.Synchronize(device);
}
