using System.Diagnostics;
using Fop.Research.Distributed;
using Fop.Research.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Fop.Research.Tests.Distributed;

/// <summary>Marks a test skipped where Open MPI's mpirun is not installed.</summary>
public sealed class MpiFactAttribute : FactAttribute
{
    /// <summary>Skips without mpirun.</summary>
    public MpiFactAttribute()
    {
        if (MpiJob.Mpirun is null) Skip = "Open MPI is not installed here (apt-get install openmpi-bin; .ci/run installs it): the multi-process tests need mpirun";
    }
}

/// <summary>Runs `fop` (built next to the tests) under mpirun with N ranks.</summary>
internal static class MpiJob
{
    public static string? Mpirun => (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Select(d => Path.Combine(d, "mpirun")).FirstOrDefault(File.Exists);

    public sealed record Result(int ExitCode, string Output, TimeSpan Elapsed, DateTimeOffset Ended);

    public static Result Run(int ranks, IEnumerable<string> args, IDictionary<string, string>? env = null, TimeSpan? timeout = null)
    {
        var info = new ProcessStartInfo(Mpirun!) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        // Two cores here: more ranks than slots needs oversubscription, and binding each rank to one core would serialise them.
        foreach (var a in new[] { "-np", ranks.ToString(), "--oversubscribe", "--bind-to", "none" }) info.ArgumentList.Add(a);
        info.ArgumentList.Add("-x"); info.ArgumentList.Add("GLIBC_TUNABLES=glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=17179869184");
        foreach (var (k, v) in env ?? new Dictionary<string, string>()) { info.ArgumentList.Add("-x"); info.ArgumentList.Add($"{k}={v}"); }
        var dotnet = Path.GetFileNameWithoutExtension(Environment.ProcessPath!).Equals("dotnet", StringComparison.OrdinalIgnoreCase) ? Environment.ProcessPath! : "dotnet";
        info.ArgumentList.Add(dotnet);
        info.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "fop.dll"));
        foreach (var a in args) info.ArgumentList.Add(a);
        info.Environment["OMPI_ALLOW_RUN_AS_ROOT"] = "1";
        info.Environment["OMPI_ALLOW_RUN_AS_ROOT_CONFIRM"] = "1";
        info.Environment["TERM"] = "dumb";
        var clock = Stopwatch.StartNew();
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(timeout ?? TimeSpan.FromMinutes(4)))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"mpirun -np {ranks} fop {string.Join(' ', args)} did not finish:\n{stdout.Result}\n{stderr.Result}");
        }
        process.WaitForExit();
        return new Result(process.ExitCode, stdout.Result + stderr.Result, clock.Elapsed, DateTimeOffset.UtcNow);
    }
}

/// <summary>The multi-process tests run alone: N ranks on 2 cores next to other tests would only measure the contention.</summary>
[CollectionDefinition("mpi", DisableParallelization = true)]
public sealed class MpiCollection;

/// <summary>
/// Issue 16: data-parallel training on Open MPI. Shards, ownership and fused buffers are checked in-process; N-rank training
/// against one process (every optimizer, N = 2 and 4, FOP on the golden MLP in float64, BatchNorm, checkpoints gathered from
/// owners), a run resumed on another number of ranks, and a killed rank, through mpirun.
/// </summary>
[Collection("mpi")]
public sealed class DistributedTests : IDisposable
{
    readonly string dir = Directory.CreateTempSubdirectory("fop-mpi-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    sealed class FakeCommunicator(int rank, int size) : ICommunicator
    {
        public int Rank => rank;
        public int Size => size;
        public void AllReduceSum(Tensor buffer) => throw new NotSupportedException();
        public void AllReduceMin(Tensor buffer) => throw new NotSupportedException();
        public void ReduceSum(Tensor buffer, int root) => throw new NotSupportedException();
        public void Broadcast(Tensor buffer, int root) => throw new NotSupportedException();
        public void Barrier() { }
        public long BytesCommunicated => 0;
        public double SecondsCommunicating => 0;
    }

    [Fact]
    public void ShardsCoverTheBatchOnceAndFopHalvesGoToEvenAndOddRanks()
    {
        var rows = Enumerable.Range(0, 4).Select(r => new DataParallel(new FakeCommunicator(r, 4)).Shard(10)).ToList();
        Assert.Equal([(0L, 2L), (2L, 3L), (5L, 2L), (7L, 3L)], rows);
        var halves = Enumerable.Range(0, 4).Select(r => new DataParallel(new FakeCommunicator(r, 4)).HalfShard(10, 5)).ToList();
        // Ranks 0 and 2 share the first half [0, 5), ranks 1 and 3 the second [5, 10).
        Assert.Equal([(0L, 2L), (5L, 2L), (2L, 3L), (7L, 3L)], halves);
        Assert.Contains("even number of ranks", Assert.Throws<ArgumentException>(() => new DataParallel(new FakeCommunicator(0, 3)).HalfShard(10, 5)).Message);
        Assert.Contains("at least one example", Assert.Throws<ArgumentException>(() => new DataParallel(new FakeCommunicator(0, 4)).Shard(3)).Message);
    }

    [Fact]
    public void OwnershipBalancesDecompositionCost()
    {
        // Factor sizes 512, 256, 256, 128, 10: the largest layer alone on one rank, the rest together on the other.
        var owners = new LayerOwnership([(785, 512), (513, 256), (257, 256), (257, 128), (129, 10)], 2);
        Assert.Equal(0, owners.Owner(0));
        Assert.All(new[] { 1, 2, 3, 4 }, i => Assert.Equal(1, owners.Owner(i)));
        Assert.True(owners.Loads[0] >= owners.Loads[1]);
        // More ranks than layers: some own none.
        var sparse = new LayerOwnership([(4, 4), (3, 3)], 4);
        Assert.Equal(2, Enumerable.Range(0, 4).Count(r => sparse.LayersOf(r).Count > 0));
    }

    [Fact]
    public void AFusedBufferRoundTripsTensorsOfEveryShape()
    {
        var parts = new[] { torch.randn(3, 4), torch.randn(5), torch.tensor(2.5), torch.zeros(2, 2, 2) };
        using var buffer = FusedBuffer.Pack(parts, ScalarType.Float64);
        Assert.Equal(3 * 4 + 5 + 1 + 8, buffer.numel());
        var copies = parts.Select(p => torch.zeros_like(p)).ToArray();
        FusedBuffer.Unpack(buffer, copies);
        Assert.All(parts.Zip(copies), p => Assert.True(torch.eq(p.First, p.Second).all().item<bool>()));
    }

    [MpiFact]
    public void TwoRanksTrainLikeOneProcessForEveryOptimizer() => AssertChecksPass(2);

    [MpiFact]
    public void FourRanksTrainLikeOneProcessForEveryOptimizer() => AssertChecksPass(4);

    static void AssertChecksPass(int ranks)
    {
        var r = MpiJob.Run(ranks, ["distributed-check"]);
        Assert.True(r.ExitCode == 0, r.Output);
        Assert.Contains($"checks passed on {ranks} ranks", r.Output);
        Assert.Contains("fop, golden MLP 5-4-3, float64", r.Output);
    }

    [MpiFact]
    public void AKilledRankEndsTheJobAndTheRunResumesOnAnotherNumberOfRanksAsIfUninterrupted()
    {
        var config = Reliability.ResumeAndRecordTests.SmallRun(dir, "fop", "name=job", "epochs=2", "kfac.fisher=empirical", "checkpoint_every_steps=2", "batch_size=24",
            // Settings that train smoothly, so float32 rounding differences between 4 ranks and 1 process stay at rounding size.
            "lr=0.002", "kfac.damping=0.05", "kfac.kl_clip=0.01");
        var path = Path.Combine(dir, "job.json");
        File.WriteAllText(path, ConfigFile.ToJson(config));

        // Rank 1 dies before step 7; the job must end promptly, with every surviving rank saying why.
        var killed = MpiJob.Run(2, ["train", "--config", path], new Dictionary<string, string> { [Io.FaultInjection.KillRankVariable] = "1:7" });
        Assert.NotEqual(0, killed.ExitCode);
        var at = System.Text.RegularExpressions.Regex.Match(killed.Output, @"killing rank 1 before step 7 at unix ms (\d+)");
        Assert.True(at.Success, killed.Output);
        var stoppedAfter = killed.Ended - DateTimeOffset.FromUnixTimeMilliseconds(long.Parse(at.Groups[1].Value));
        Assert.True(stoppedAfter < TimeSpan.FromSeconds(20), $"the job ended {stoppedAfter} after the kill:\n{killed.Output}");
        Assert.Contains("stopped by mpirun because another rank of this job failed", killed.Output);
        Assert.False(File.Exists(Path.Combine(dir, "job", "summary.json")));

        // Resumed on 4 ranks from the last checkpoint, it ends where one uninterrupted process ends.
        var resumed = MpiJob.Run(4, ["train", "--config", path, "--resume"]);
        Assert.True(resumed.ExitCode == 0, resumed.Output);
        using var data = RunData.Load(config);
        var single = new Trainer(config with { Name = "single" }, data);
        single.Run(Path.Combine(dir, "single"));
        var (_, weights, _) = Checkpoint.Load(Path.Combine(dir, "job", "checkpoint.bin"));
        var reference = single.Model!.state_dict();
        foreach (var (name, expected) in reference)
        {
            double diff = (weights[name].to_type(ScalarType.Float64) - expected.to_type(ScalarType.Float64)).abs().max().item<double>();
            Assert.True(diff < 1e-4, $"{name}: differs by {diff}");
        }
        var summary = RunSummary.Read(Path.Combine(dir, "job", "summary.json"));
        Assert.Equal(2, summary.EpochsRun);
        Assert.Equal(EpochMetrics.Read(Path.Combine(dir, "single")).Select(m => m.TestAccuracy), EpochMetrics.Read(Path.Combine(dir, "job")).Select(m => m.TestAccuracy));
    }

    [MpiFact]
    public void AnErrorOnTheRanksEndsTheJobWithItsMessageInsteadOfHanging()
    {
        // FOP needs an even number of ranks; every rank says so and the job ends (MPI_Abort), not waits in MPI_Finalize.
        var config = Reliability.ResumeAndRecordTests.SmallRun(dir, "fop", "name=odd", "epochs=1");
        var path = Path.Combine(dir, "odd.json");
        File.WriteAllText(path, ConfigFile.ToJson(config));
        var r = MpiJob.Run(3, ["train", "--config", path], timeout: TimeSpan.FromMinutes(2));
        Assert.NotEqual(0, r.ExitCode);
        Assert.Contains("needs an even number of ranks", r.Output);
        // The other ranks' note does not tell the user to repeat a command that can only fail again.
        Assert.DoesNotContain("; run the same command again to resume", r.Output);
        // Ranks above 0 keep their logs in temporary folders: none is left behind, however the job ended.
        Assert.DoesNotContain(Directory.GetDirectories(Path.GetTempPath(), "fop-rank*"), d => Directory.GetCreationTimeUtc(d) > r.Ended.UtcDateTime.AddMinutes(-3));
    }

    [MpiFact]
    public void OnlyTrainingCommandsRunUnderMpirun()
    {
        var r = MpiJob.Run(2, ["quickstart", "--epochs", "1"]);
        Assert.NotEqual(0, r.ExitCode);
        Assert.Contains("run on several processes", r.Output);
    }
}
