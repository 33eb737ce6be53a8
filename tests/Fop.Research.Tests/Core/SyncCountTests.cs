using Fop.Research.Data;
using Fop.Research.Optim;
using Fop.Research.Training;
using TorchSharp;
using static TorchSharp.torch;
using Fop.Research.Devices;

namespace Fop.Research.Tests.Core;

/// <summary>
/// What a training step makes the host wait on with a GPU, counted through <see cref="DeviceSyncs"/> on the path a user
/// runs (the trainer: batch, step, the clock's synchronise): a step that rebuilds no inverse reads once and synchronises
/// once, and nothing in it copies from pageable host memory; an inverse step adds libtorch's info checks of the Cholesky
/// factorisations (four per layer). The counts are of call sites, so they hold here without a GPU.
/// </summary>
public sealed class SyncCountTests : IDisposable
{
    readonly string dir = Directory.CreateTempSubdirectory("fop-syncs-").FullName;

    /// <inheritdoc />
    public void Dispose() => Directory.Delete(dir, recursive: true);

    [Theory]
    [InlineData("sgd")]
    [InlineData("adamw")]
    [InlineData("kfac")]
    [InlineData("fop")]
    public void AStepWithoutAnInverseReadsOnceAndSynchronisesOnceThroughTheTrainer(string optimizer)
    {
        // 120 images, batch 24: 5 steps an epoch; curvature every 2nd step, inverses every 4th (steps 0, 4, 8).
        var config = Reliability.ResumeAndRecordTests.SmallRun(dir, optimizer, "name=syncs", "epochs=2", "fop.diagnostics_interval=0", "augment={\"crop_padding\":2,\"horizontal_flip\":true}");
        using var data = RunData.Load(config);
        var steps = new List<(long Step, SyncCounts Syncs)>();
        var summary = new Trainer(config, data) { OnProgress = p => steps.Add((p.GlobalStep - 1, p.StepSyncs)) }.Run(Path.Combine(dir, "syncs"));
        Assert.True(summary.Completed);
        Assert.Equal(10, steps.Count);

        bool natural = optimizer is "kfac" or "fop";
        foreach (var (step, s) in steps)
        {
            Assert.Equal(0, s.BlockingCopies);
            Assert.Equal(0, s.Collectives);
            Assert.Equal(1, s.Synchronizes);
            bool inverse = natural && step % 4 == 0;
            if (inverse)
            {
                Assert.Equal(4 * 2, s.LinalgChecks);                        // two layers, cholesky and cholesky_inverse of A and G each
                Assert.True(s.HostReads > 1, $"step {step}: an inverse step checks its factors ({s})");
            }
            else
            {
                Assert.Equal(0, s.LinalgChecks);
                Assert.True(s.HostReads == 1, $"step {step}: {s}");
            }
        }
    }

    [Fact]
    public void CopiesToTheDeviceGoThroughPinnedMemoryAndAreNotWaits()
    {
        // On the CPU a tensor already there is handed back as an alias: no copy, nothing counted.
        using var host = torch.arange(6, dtype: ScalarType.Int64);
        var before = DeviceSyncs.Counts;
        using (var same = DeviceSyncs.To(host, torch.CPU)) Assert.Equal(host.data<long>().ToArray(), same.data<long>().ToArray());
        using (var made = DeviceSyncs.FromHost([0.5, 0.25], ScalarType.Float32, torch.CPU)) Assert.Equal([0.5f, 0.25f], made.data<float>().ToArray());
        var d = DeviceSyncs.Counts - before;
        Assert.Equal(0, d.Total);
        Assert.Equal(0, d.AsyncCopies);

        DeviceSyncs.Synchronize(torch.CPU);
        DeviceSyncs.Note(SyncKind.LinalgCheck, 2);
        d = DeviceSyncs.Counts - before;
        Assert.Equal(3, d.Total);
        Assert.Equal("1 synchronise, 2 linalg check", d.ToString());
    }

    [Fact]
    public void AnEpochsOrderIsMadeWhereTheBatchesAreIndexed()
    {
        var config = Reliability.ResumeAndRecordTests.SmallRun(dir, "sgd", "name=order");
        using var data = RunData.Load(config);
        using var feed = new BatchFeed(data.Train, config, torch.CPU);
        using var permutation = feed.Permutation(1);
        using var reference = BatchOrder.Permutation(data.Train.Count, config.Seed, 1);
        Assert.Equal(data.Train.Store.Device.type, permutation.device.type);
        Assert.Equal(reference.data<long>().ToArray(), permutation.data<long>().ToArray());
    }
}
