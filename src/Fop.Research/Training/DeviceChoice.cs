using TorchSharp;
using static TorchSharp.torch;

namespace Fop.Research.Training;

/// <summary>Turns cpu / cuda / auto into a TorchSharp device, failing clearly when CUDA was asked for and is absent.</summary>
public static class DeviceChoice
{
    /// <summary>The device for <paramref name="name"/>.</summary>
    public static Device Resolve(string name) => name switch
    {
        "cpu" => torch.CPU,
        "cuda" => torch.cuda.is_available() ? torch.CUDA
            : throw new InvalidOperationException("device=cuda but CUDA is not available: build with -p:FopGpu=true (TorchSharp-cuda-linux) on a machine with an NVIDIA GPU, or use --device cpu."),
        "auto" => torch.cuda.is_available() ? torch.CUDA : torch.CPU,
        _ => throw new ArgumentException($"device '{name}' is not cpu, cuda or auto."),
    };

    /// <summary>Waits for the work queued on <paramref name="device"/> (a no-op on the CPU), so a clock read after it times that work.</summary>
    public static void Synchronize(Device device)
    {
        if (device.type == DeviceType.CUDA) torch.cuda.synchronize(device);
    }
}
