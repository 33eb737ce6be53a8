using TorchSharp;
using static TorchSharp.torch;
using Fop.Research.Devices;

namespace Fop.Research.Randomness;

/// <summary>What a random stream is for: each purpose seeds its own generator, so streams never overlap.</summary>
public enum RandomPurpose : long
{
    /// <summary>The order of an epoch's examples (position: epoch).</summary>
    EpochOrder = 1,
    /// <summary>Training augmentation of a batch (position: epoch, step).</summary>
    Augmentation = 2,
    /// <summary>Labels sampled from the model for the Monte-Carlo Fisher (position: step).</summary>
    MonteCarloLabels = 3,
    /// <summary>The conv output positions kept for Kronecker factor statistics (position: step).</summary>
    ConvPositions = 4,
    /// <summary>The examples kept for Kronecker factor statistics (position: step).</summary>
    FactorSubset = 5,
    /// <summary>The stratified validation split held out of the training set.</summary>
    ValidationSplit = 6,
    /// <summary>The random resized crops of a streamed image folder's training batch (position: epoch, step; the store mixes in each example).</summary>
    StreamedCrops = 7,
    /// <summary>Data and probes of the device checks (position: check, step).</summary>
    DeviceCheck = 11,
}

/// <summary>
/// The one place the library draws seeded random tensors, correct on any device by construction. TorchSharp 0.107 makes
/// only CPU generators (its native <c>THSGenerator_new</c> ignores the device it is given), and libtorch refuses a CPU
/// generator for a draw on a GPU ("Expected a 'cuda' device type for generator but found 'cpu'"). So every draw is made
/// on the CPU, where the generator lives, and the result is moved to the requested device once: the same seed gives the
/// same numbers on every device, CPU runs are unchanged, and nothing device-specific needs checkpointing because every
/// stream is re-seeded from (run seed, purpose, position). The per-draw host-to-device copy is small (labels, offsets,
/// index permutations, probe vectors) and made from pinned memory, so it queues behind the device's work without a wait. A test scans the library's sources so that no other code passes a generator to libtorch.
/// </summary>
public sealed class SeededRandom : IDisposable
{
    readonly Generator generator;

    /// <summary>A stream seeded from a run's seed, its purpose and its position (epoch, step, ...).</summary>
    public SeededRandom(long seed, RandomPurpose purpose, params long[] position)
        : this((ulong)Data.BatchOrder.StreamSeed(seed, [(long)purpose, .. position])) { }

    /// <summary>A stream seeded directly (landscape directions, sharpness probes, tests).</summary>
    public SeededRandom(ulong seed) => generator = new Generator(seed, torch.CPU);

    /// <summary>Uniform values in [0, 1) of <paramref name="shape"/> on <paramref name="device"/>.</summary>
    public Tensor Uniform(long[] shape, Device device, ScalarType dtype = ScalarType.Float32) =>
        OnDevice(torch.rand(shape, generator: generator, dtype: dtype), device);

    /// <summary>Standard normal values of <paramref name="shape"/> on <paramref name="device"/>.</summary>
    public Tensor Normal(long[] shape, Device device, ScalarType dtype = ScalarType.Float32) =>
        OnDevice(torch.randn(shape, generator: generator, dtype: dtype), device);

    /// <summary>Integers in [<paramref name="low"/>, <paramref name="high"/>) of <paramref name="shape"/> on <paramref name="device"/>.</summary>
    public Tensor Integers(long low, long high, long[] shape, Device device, ScalarType dtype = ScalarType.Int64) =>
        OnDevice(torch.randint(low, high, shape, generator: generator, dtype: dtype), device);

    /// <summary>A random permutation of 0..<paramref name="n"/>-1 on <paramref name="device"/>.</summary>
    public Tensor Permutation(long n, Device device) => OnDevice(torch.randperm(n, generator: generator), device);

    /// <summary>The CPU draw itself on the CPU, or copied to <paramref name="device"/> without a wait (pinned, asynchronous; the CPU copy freed).</summary>
    static Tensor OnDevice(Tensor cpu, Device device)
    {
        if (device.type == DeviceType.CPU) return cpu;
        using (cpu) return Devices.DeviceSyncs.To(cpu, device);
    }

    /// <summary>Frees the generator.</summary>
    public void Dispose() => generator.Dispose();
}
