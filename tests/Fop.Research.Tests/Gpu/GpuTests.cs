using Fop.Research.Training;
using TorchSharp;
using Fop.Research.Devices;

namespace Fop.Research.Tests.Gpu;

/// <summary>A test that needs a CUDA device: skipped, with that note, where none is present.</summary>
public sealed class GpuFactAttribute : FactAttribute
{
    /// <summary>Marks the test skipped when this process cannot use CUDA.</summary>
    public GpuFactAttribute()
    {
        if (!DeviceChoice.CudaAvailable) Skip = "no CUDA device here: GPU tests run where one is present (experiments/gpu/bundle.sh packs them and experiments/gpu/run-check.sh runs them on a GPU machine without .NET)";
    }
}

/// <summary>The GPU checks of <see cref="DeviceCheck"/> as tests, and the checks themselves run on the CPU so they are known to work before a GPU is at hand.</summary>
public sealed class GpuTests : IDisposable
{
    readonly string dir = Directory.CreateTempSubdirectory("fop-gpu-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    [GpuFact]
    public void EveryDeviceCheckPassesOnCuda()
    {
        var failed = DeviceCheck.Run(torch.CUDA, dir).Where(r => !r.Passed).ToList();
        Assert.True(failed.Count == 0, string.Join("; ", failed.Select(r => $"{r.Name}: {r.Detail}")));
    }

    [Fact]
    public void TheChecksPassWithTheCpuAsTheDevice()
    {
        var results = new[] { "fop" }.Select(o => DeviceCheck.OneReadPerStep(o, torch.CPU)).Append(DeviceCheck.StepsAgree("fop", torch.CPU)).Append(DeviceCheck.VisualizersRun(torch.CPU)).ToList();
        Assert.All(results, r => Assert.True(r.Passed, $"{r.Name}: {r.Detail}"));
    }
}
