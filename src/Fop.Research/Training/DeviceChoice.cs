using TorchSharp;
using static TorchSharp.torch;

namespace Fop.Research.Training;

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
        "cuda" => CudaAvailable ? torch.CUDA
            : throw new ArgumentException("device=cuda but CUDA is not available: build with -p:FopLibtorch=cuda (TorchSharp-cuda-linux) or -p:FopLibtorch=system (the machine's own libtorch) on a machine with an NVIDIA GPU (README, \"CUDA\"), or use --device cpu."),
        "auto" => CudaAvailable ? torch.CUDA : torch.CPU,
        _ => throw new ArgumentException($"device '{name}' is not cpu, cuda or auto."),
    };

    /// <summary>Waits for the work queued on <paramref name="device"/> (a no-op on the CPU), so a clock read after it times that work.</summary>
    public static void Synchronize(Device device)
    {
        if (device.type == DeviceType.CUDA) torch.cuda.synchronize(device);
    }
}
