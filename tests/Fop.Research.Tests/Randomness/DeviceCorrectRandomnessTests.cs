using System.Text.RegularExpressions;
using Fop.Research.Data;
using Fop.Research.Randomness;
using Fop.Research.Training;
using TorchSharp;
using static TorchSharp.torch;
using Fop.Research.Devices;

namespace Fop.Research.Tests.Randomness;

/// <summary>
/// Randomness that is correct on any device by construction: TorchSharp makes only CPU generators and libtorch refuses one
/// for a GPU draw, so every seeded draw of the library goes through <see cref="SeededRandom"/>, which draws on the CPU and
/// moves the result. These tests can run without a GPU: one scans the library's sources for any other draw, the others
/// pin what the one place does.
/// </summary>
public sealed class DeviceCorrectRandomnessTests
{
    static readonly Regex RandomCall = new(@"\b(generator\s*:|new\s+Generator\s*\(|torch\.(rand|randn|randint|randperm|rand_like|randn_like|randint_like|multinomial|bernoulli|normal|poisson)\s*\(|\.(uniform_|normal_|random_|bernoulli_|exponential_|geometric_|cauchy_|log_normal_)\s*\()");

    [Fact]
    public void EveryRandomDrawOfTheLibraryGoesThroughSeededRandom()
    {
        var root = DatasetFiles.RepositoryRoot()!;
        var offenders = new List<string>();
        foreach (var dir in new[] { "src", "experiments" })
            foreach (var file in Directory.GetFiles(Path.Combine(root, dir), "*.cs", SearchOption.AllDirectories))
            {
                var rel = Path.GetRelativePath(root, file);
                if (rel.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}") || rel.EndsWith(Path.Combine("Randomness", "SeededRandom.cs"))) continue;
                var lines = File.ReadAllLines(file);
                for (int i = 0; i < lines.Length; i++)
                {
                    var code = lines[i].Split("//")[0];
                    if (!RandomCall.IsMatch(code)) continue;
                    // Weight initialisation at construction uses the global seed on the CPU, before the model moves to its device.
                    if (rel.StartsWith(Path.Combine("src", "Fop.Research", "Models")) && code.Contains("torch.randn(") && !code.Contains("device")) continue;
                    offenders.Add($"{rel}:{i + 1}: {lines[i].Trim()}");
                }
            }
        Assert.True(offenders.Count == 0, "random draws outside SeededRandom (they would fail on a GPU):\n" + string.Join("\n", offenders));
    }

    [Fact]
    public void OnTheCpuADrawIsExactlyTheCpuGeneratorsSoCpuRunsAreUnchanged()
    {
        using var random = new SeededRandom(42, RandomPurpose.MonteCarloLabels, 7);
        using var g = new Generator((ulong)BatchOrder.StreamSeed(42, 3, 7), torch.CPU);
        using var a = random.Uniform([5, 3], CPU, ScalarType.Float64);
        using var b = torch.rand([5, 3], generator: g, dtype: ScalarType.Float64);
        Assert.Equal(b.data<double>().ToArray(), a.data<double>().ToArray());
        using var p = random.Permutation(9, CPU);
        using var q = torch.randperm(9, generator: g);
        Assert.Equal(q.data<long>().ToArray(), p.data<long>().ToArray());
    }

    [Fact]
    public void ADrawForAnotherDeviceTypeIsMadeOnTheCpuAndMovedThere()
    {
        // The meta device stands in for a GPU here: a tensor of that type comes back, drawn from the CPU generator's stream.
        var meta = new Device(DeviceType.META);
        using var random = new SeededRandom(1);
        using var moved = random.Normal([4, 2], meta);
        Assert.Equal(DeviceType.META, moved.device.type);
        Assert.Equal([4L, 2L], moved.shape);
        using var again = new SeededRandom(1);
        using var onCpu = again.Normal([4, 2], CPU);
        using var next = random.Normal([3], CPU);
        using var afterCpu = again.Normal([3], CPU);
        // The same number of values was taken from both streams: the next draws agree.
        Assert.Equal(afterCpu.data<float>().ToArray(), next.data<float>().ToArray());
    }

    [Fact]
    public void StreamsOfDifferentPurposesOrPositionsDiffer()
    {
        using var a = new SeededRandom(5, RandomPurpose.Augmentation, 1, 2);
        using var b = new SeededRandom(5, RandomPurpose.Augmentation, 2, 1);
        using var c = new SeededRandom(5, RandomPurpose.ConvPositions, 1, 2);
        using var x = a.Uniform([8], CPU);
        using var y = b.Uniform([8], CPU);
        using var z = c.Uniform([8], CPU);
        Assert.NotEqual(x.data<float>().ToArray(), y.data<float>().ToArray());
        Assert.NotEqual(x.data<float>().ToArray(), z.data<float>().ToArray());
    }

    [Theory]
    [InlineData(0, 8, 0)]
    [InlineData(3, 8, 3)]
    [InlineData(9, 8, 1)]
    [InlineData(2, 0, 0)]
    public void EachRankOfAMachineTakesItsOwnGpu(int localRank, int devices, int expected) => Assert.Equal(expected, DeviceChoice.CudaIndex(localRank, devices));
}
