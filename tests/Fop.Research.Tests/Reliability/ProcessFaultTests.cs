using Fop.Research.Data;
using Fop.Research.Io;
using Fop.Research.Training;
using static TorchSharp.torch;

namespace Fop.Research.Tests.Reliability;

/// <summary>The command line as a user meets it: killed at random points and resumed, fed corrupt files, asked to mix trajectories.</summary>
public sealed class ProcessFaultTests : IDisposable
{
    readonly string dir = Directory.CreateTempSubdirectory("fop-proc-").FullName;
    readonly string data;

    public ProcessFaultTests()
    {
        data = Path.Combine(dir, "fmnist");
        Directory.CreateDirectory(data);
        DataTests.WriteFashionMnist(data, 120, 40);
    }

    public void Dispose() => Directory.Delete(dir, recursive: true);

    string[] Train(string optimizer, string name, int epochs, params string[] extra) =>
        new[] { "train", "--data-dir", data, "--out", dir }
            .Concat(new[] { $"name={name}", "model=mlp", "mlp_hidden=[16]", $"optimizer={optimizer}", "batch_size=24", $"epochs={epochs}", "lr=0.01",
                "kfac.curvature_interval=2", "kfac.inverse_interval=4", "checkpoint_every_steps=1", "augment={\"crop_padding\":2}" }.SelectMany(s => new[] { "--set", s }))
            .Concat(extra).ToArray();

    static void AssertNoStackTrace(CliProcess.Result r) => Assert.DoesNotContain("   at ", r.Stderr + r.Stdout);

    [Theory]
    [InlineData("sgd", 11)]
    [InlineData("fop", 12)]
    public void ARunKilledAtRandomPointsAndResumedEachTimeEndsBitIdentical(string optimizer, int seed)
    {
        const int epochs = 20;                         // 5 steps per epoch: 100 steps, a checkpoint after each
        var reference = CliProcess.Run(Train(optimizer, "reference", epochs));
        Assert.Equal(0, reference.ExitCode);

        var random = new Random(seed);
        var stepsLog = Path.Combine(dir, "killed", "steps.csv");
        int Logged() { try { return File.Exists(stepsLog) ? File.ReadLines(stepsLog).Count() - 1 : 0; } catch (IOException) { return 0; } }
        int kills = 0, target = 0;
        // The first attempt dies halfway through writing its third checkpoint; then four kills from outside at random steps.
        var first = CliProcess.Run(Train(optimizer, "killed", epochs), env: new Dictionary<string, string> { [FaultInjection.KillInCheckpointVariable] = "3" });
        Assert.True(first.ExitCode == 137, $"the fault-injected run was not killed mid-checkpoint (exit {first.ExitCode}): {first.Stderr}");
        kills++;
        for (int attempt = 0; attempt < 4; attempt++)
        {
            target = Math.Max(target, Logged()) + random.Next(5, 20);
            var r = CliProcess.Run(Train(optimizer, "killed", epochs, "--resume"), killWhen: () => Logged() >= target);
            if (r.Killed) kills++;
            else Assert.True(r.ExitCode == 0, r.Stderr);
        }
        var last = CliProcess.Run(Train(optimizer, "killed", epochs, "--resume"));
        Assert.True(last.ExitCode == 0, last.Stderr);
        Assert.True(kills >= 4, $"only {kills} kills landed");

        var (_, refModel, refOpt) = Checkpoint.Load(Path.Combine(dir, "reference", "checkpoint.bin"));
        var (_, model, opt) = Checkpoint.Load(Path.Combine(dir, "killed", "checkpoint.bin"));
        foreach (var (k, v) in refModel) Assert.True(TestModels.MaxAbs(v, model[k]) == 0, $"{k} differs after {kills} kills");
        foreach (var (k, v) in refOpt) Assert.True(TestModels.MaxAbs(v, opt[k]) == 0, $"optimizer {k} differs after {kills} kills");
        var a = EpochMetrics.Read(Path.Combine(dir, "reference"));
        var b = EpochMetrics.Read(Path.Combine(dir, "killed"));
        Assert.Equal(a.Select(m => (m.Epoch, m.Steps, m.Lr, m.TrainLoss, m.TrainAccuracy, m.TestLoss, m.TestAccuracy, m.SkippedSteps)),
                     b.Select(m => (m.Epoch, m.Steps, m.Lr, m.TrainLoss, m.TrainAccuracy, m.TestLoss, m.TestAccuracy, m.SkippedSteps)));
        var steps = File.ReadAllLines(Path.Combine(dir, "killed", "steps.csv")).Skip(1).Select(l => long.Parse(l.Split(',')[0])).ToArray();
        Assert.Equal(Enumerable.Range(0, steps.Length).Select(i => (long)i), steps);
        Assert.Equal(RunSummary.Read(Path.Combine(dir, "reference", "summary.json")).Steps, steps.Length);
    }

    [Fact]
    public void BadInputEndsWithExitCode2AMessageNamingTheFileAndNoStackTrace()
    {
        // Labels out of range (the file is well-formed otherwise).
        var bad = Path.Combine(dir, "badlabels");
        Directory.CreateDirectory(bad);
        DataTests.WriteFashionMnist(bad, 30, 10);
        var labels = Path.Combine(bad, "train-labels-idx1-ubyte.gz");
        IdxFile.WriteLabels(labels, Enumerable.Range(0, 30).Select(i => (byte)(i == 7 ? 200 : i % 10)).ToArray());
        var r = CliProcess.Run(["train", "--data-dir", bad, "--out", dir, "--set", "model=mlp", "--set", "epochs=1"]);
        Assert.Equal(2, r.ExitCode);
        Assert.Contains(labels, r.Stderr);
        AssertNoStackTrace(r);

        // A resume that would mix trajectories; and a plain re-run over a finished run.
        Assert.Equal(0, CliProcess.Run(Train("sgd", "mix", 1)).ExitCode);
        r = CliProcess.Run(Train("sgd", "mix", 1));
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("already holds a run", r.Stderr);
        r = CliProcess.Run(Train("sgd", "mix", 2, "--resume", "--set", "lr=0.5"));
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("lr: 0.01 -> 0.5", r.Stderr);
        AssertNoStackTrace(r);
        var fork = CliProcess.Run(Train("sgd", "mix", 2, "--fork", "mix-lr0.5", "--set", "lr=0.5"));
        Assert.True(fork.ExitCode == 0, fork.Stderr);
        Assert.True(File.Exists(Path.Combine(dir, "mix-lr0.5", "fork.json")));

        // A corrupt checkpoint: named, and left in place.
        var checkpoint = Path.Combine(dir, "mix", "checkpoint.bin");
        var bytes = File.ReadAllBytes(checkpoint);
        bytes[bytes.Length / 2] ^= 0xFF;
        File.WriteAllBytes(checkpoint, bytes);
        r = CliProcess.Run(Train("sgd", "mix", 2, "--resume"));
        Assert.Equal(2, r.ExitCode);
        Assert.Contains(checkpoint, r.Stderr);
        Assert.Equal(bytes, File.ReadAllBytes(checkpoint));
        AssertNoStackTrace(r);

        // A bad --set value.
        r = CliProcess.Run(Train("sgd", "x", 1, "--set", "kfac.damping=-3"));
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("damping", r.Stderr);
        AssertNoStackTrace(r);
    }

    [Fact]
    public void ASweepWithADivergedPointRestartsAndADivergedRunExitsWith1()
    {
        var sweep = new[] { "sweep", "--data-dir", data, "--out", dir, "--set", "name=sw", "--set", "model=mlp", "--set", "mlp_hidden=[16]",
            "--set", "epochs=1", "--set", "batch_size=4", "--set", "sgd.momentum=0", "--grid", "lr=1e30,0.05" };
        var first = CliProcess.Run(sweep);
        Assert.True(first.ExitCode == 0, first.Stderr);
        Assert.Contains("NaN", File.ReadAllText(Path.Combine(dir, "sw", "lr-1e30", "summary.json")));
        var again = CliProcess.Run(sweep);
        Assert.True(again.ExitCode == 0, again.Stderr);
        Assert.Contains("complete, read back", again.Stdout);
        AssertNoStackTrace(again);

        var diverged = CliProcess.Run(Train("sgd", "div", 5, "--set", "lr=1e30", "--set", "sgd.momentum=0"));
        Assert.Equal(1, diverged.ExitCode);
        Assert.Contains("diverged", diverged.Stderr);
    }
}
