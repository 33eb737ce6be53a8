using System.Diagnostics;
using Fop.Research.Data;
using Fop.Research.Io;
using Fop.Research.Training;

namespace Fop.Research.Tests.Reliability;

/// <summary>
/// The mistakes a careless user makes on the command line, each through the real `fop` process: every one ends with exit 2
/// and one line naming the file, key or option, and nothing is written before the refusal.
/// </summary>
public sealed class CarelessUserTests : IDisposable
{
    readonly string dir = Directory.CreateTempSubdirectory("fop-careless-").FullName;
    readonly string data;

    public CarelessUserTests()
    {
        data = Path.Combine(dir, "fmnist");
        Directory.CreateDirectory(data);
        DataTests.WriteFashionMnist(data, 120, 40);
    }

    public void Dispose() => Directory.Delete(dir, recursive: true);

    string Out => Path.Combine(dir, "out");

    static readonly string[] Small = ["model=mlp", "mlp_hidden=[16]", "batch_size=24", "lr=0.01", "epochs=1"];

    string[] Train(string name, params string[] sets) =>
        new[] { "train", "--data-dir", data, "--out", Out }.Concat(Small.Append($"name={name}").Concat(sets).SelectMany(s => new[] { "--set", s })).ToArray();

    /// <summary>Exit 2, an error of one line that contains <paramref name="named"/>, no stack trace.</summary>
    static void AssertRefused(CliProcess.Result r, string named)
    {
        Assert.True(r.ExitCode == 2, $"exit {r.ExitCode}, expected 2: {r.Stderr}{r.Stdout}");
        var errors = r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(l => l.StartsWith("error:")).ToList();
        Assert.True(errors.Count == 1, $"expected one error line: {r.Stderr}");
        Assert.Contains(named, errors[0]);
        Assert.DoesNotContain("   at ", r.Stderr + r.Stdout);
    }

    [Theory]
    [InlineData("train --epochs 1", "epochs")]
    [InlineData("sweep --grdi lr=0.1,0.2", "grdi")]
    [InlineData("train --data-dirr X", "data-dirr")]
    [InlineData("quickstart --epoch 1", "epoch")]
    [InlineData("claims --result experiments/result", "result")]
    [InlineData("bench --batches 8", "batches")]
    public void AnUnknownOptionIsRefusedAndNamedBeforeAnythingRuns(string command, string option)
    {
        var r = CliProcess.Run(command.Split(' ').Concat(["--out", Out]));
        AssertRefused(r, $"'{option}'");
        Assert.False(Directory.Exists(Out));
    }

    [Fact]
    public void VersionAndHelpSayWhatEachOptionDoesWithItsDefault()
    {
        var version = CliProcess.Run(["--version"]);
        Assert.Equal(0, version.ExitCode);
        Assert.Matches(@"^\d+\.\d+\.\d+", version.Stdout.Trim());
        foreach (var command in new[] { "quickstart", "bench" })
        {
            var help = CliProcess.Run([command, "--help"]);
            Assert.Equal(0, help.ExitCode);
            var optionLines = help.Stdout.Split('\n').Where(l => l.TrimStart().StartsWith("--") && !l.Contains("--help")).ToList();
            Assert.NotEmpty(optionLines);
            // Every option has a description after its name and value placeholder.
            Assert.All(optionLines, l => Assert.Matches(@"--\S+(\s+<[A-Z=,0-9]+>)?\s{2,}\S", l));
        }
    }

    [Fact]
    public async Task ASecondRunIntoTheSameFolderIsRefusedWhileTheFirstTrains()
    {
        bool secondDone = false;
        var first = Task.Run(() => CliProcess.Run(Train("r", "epochs=400", "checkpoint_every_steps=1"), killWhen: () => Volatile.Read(ref secondDone)));
        var config = Path.Combine(Out, "r", "config.json");
        var clock = Stopwatch.StartNew();
        while (!File.Exists(config) && clock.Elapsed < TimeSpan.FromMinutes(2) && !first.IsCompleted) Thread.Sleep(50);
        Assert.True(File.Exists(config), "the first run never started");
        var second = CliProcess.Run([.. Train("r", "epochs=1", "lr=0.02"), "--overwrite"]);
        Volatile.Write(ref secondDone, true);
        var a = await first;
        AssertRefused(second, "another fop process is training into this run folder");
        Assert.True(a.Killed, $"the first run ended before the second was refused: {a.Stderr}");
        Assert.Equal(0.01, ConfigFile.Load(config).Lr);
        // The first run was killed (as by kill -9): its folder is not locked any more and resumes.
        var resumed = CliProcess.Run([.. Train("r", "epochs=1"), "--resume"]);
        Assert.True(resumed.ExitCode is 0, resumed.Stderr);
    }

    [Fact]
    public void ClaimsOnAMistypedResultsFolderRefuseAndKeepTheReport()
    {
        var repo = DatasetFiles.RepositoryRoot()!;
        var report = Path.Combine(dir, "claims.md");
        File.WriteAllText(report, "the committed report\n");
        string[] Claims(string results) => ["claims", "--results", results, "--out", report,
            "--scaling", Path.Combine(repo, "experiments/studies/fmnist-fair-scaling.json"), "--damping", Path.Combine(repo, "experiments/studies/fmnist-fair-damping.json"),
            "--long-tailed", Path.Combine(repo, "experiments/studies/fmnist-fair-long-tailed.json"), "--post-hoc", Path.Combine(repo, "experiments/studies/fmnist-fair-stability.json")];
        AssertRefused(CliProcess.Run(Claims(Path.Combine(repo, "experiments/result"))), "experiments/result");
        Directory.CreateDirectory(Path.Combine(dir, "empty"));
        AssertRefused(CliProcess.Run(Claims(Path.Combine(dir, "empty"))), "results.csv");
        Assert.Equal("the committed report\n", File.ReadAllText(report));

        // On the real results the report is written once; a second run at another commit would change only its commit line,
        // so it is left alone.
        var written = CliProcess.Run(Claims(Path.Combine(repo, "experiments/results")));
        Assert.True(written.ExitCode == 0, written.Stderr);
        // Piped, the markdown tables keep each row on one line.
        var rows = File.ReadAllLines(report).Where(l => l.StartsWith('|')).ToList();
        Assert.NotEmpty(rows);
        Assert.All(rows, row => Assert.Contains(row, written.Stdout.Split('\n').Select(l => l.TrimEnd('\r'))));
        var text = File.ReadAllText(report).Replace("Last written at commit", "Last written at commit 0000000 (was)");
        File.WriteAllText(report, text);
        var again = CliProcess.Run(Claims(Path.Combine(repo, "experiments/results")));
        Assert.True(again.ExitCode == 0, again.Stderr);
        Assert.Contains("unchanged", again.Stdout);
        Assert.Equal(text, File.ReadAllText(report));
    }

    [Fact]
    public void AStudyRefusedForChangedSettingsWritesNothing()
    {
        var baseConfig = Path.Combine(dir, "base.json");
        File.WriteAllText(baseConfig, ConfigFile.ToJson(ConfigFile.Load(null, Small.Concat([$"data_dir={data}", "name=base"]))));
        var study = Path.Combine(dir, "study.json");
        string Study(string lr) => $$"""
            { "name": "s", "question": "q", "configs": ["base.json"],
              "variants": [ { "label": "a", "set": [] }, { "label": "b", "set": ["lr={{lr}}"] } ], "seeds": [1] }
            """;
        File.WriteAllText(study, Study("0.02"));
        string[] Run() => ["study", study, "--out", Path.Combine(dir, "runs"), "--results", Path.Combine(dir, "results")];
        var first = CliProcess.Run(Run());
        Assert.True(first.ExitCode == 0, first.Stderr);
        var results = Path.Combine(dir, "results", "s");
        var before = Directory.GetFiles(results).ToDictionary(f => f, File.ReadAllBytes);

        File.WriteAllText(study, Study("0.03"));
        AssertRefused(CliProcess.Run(Run()), "this finished run was made with other settings");
        Assert.Equal(before.Keys.Order(), Directory.GetFiles(results).Order());
        foreach (var (file, bytes) in before) Assert.True(bytes.SequenceEqual(File.ReadAllBytes(file)), $"{file} was rewritten");
    }

    [Fact]
    public void AnImageFolderWhoseValidationClassesDifferIsRefusedNamingBoth()
    {
        var root = StandInData.WriteImageFolder(Path.Combine(dir, "images"), ["cat", "dog"], trainPerClass: 2, valPerClass: 1, imageSize: 20);
        string[] Args() => ["train", "--data-dir", root, "--out", Out, "--set", "dataset=imagefolder", "--set", "image_size=16", "--set", "model=mlp",
            "--set", "mlp_hidden=[8]", "--set", "batch_size=4", "--set", "epochs=1"];
        Directory.Delete(Path.Combine(root, "val", "cat"), recursive: true);
        var missing = CliProcess.Run(Args());
        AssertRefused(missing, "only in train/: cat");
        Assert.Contains(Path.Combine(root, "val"), missing.Stderr);

        Directory.CreateDirectory(Path.Combine(root, "val", "cat"));
        File.Copy(Directory.GetFiles(Path.Combine(root, "val", "dog"))[0], Path.Combine(root, "val", "cat", "x.png"));
        Directory.CreateDirectory(Path.Combine(root, "val", "emu"));
        File.Copy(Directory.GetFiles(Path.Combine(root, "val", "dog"))[0], Path.Combine(root, "val", "emu", "x.png"));
        AssertRefused(CliProcess.Run(Args()), "only in val/: emu");
        Assert.False(Directory.Exists(Out));
    }

    [Fact]
    public void AnImageFolderWithNoDecodableImageStopsInsteadOfTrainingOnNothing()
    {
        var root = StandInData.WriteImageFolder(Path.Combine(dir, "images"), ["cat", "dog"], trainPerClass: 3, valPerClass: 1, imageSize: 20);
        foreach (var file in Directory.GetFiles(root, "*.*", SearchOption.AllDirectories).Where(f => f.EndsWith(".png") || f.EndsWith(".jpg")))
            File.WriteAllText(file, "not an image");
        var r = CliProcess.Run(["train", "--data-dir", root, "--out", Out, "--set", "dataset=imagefolder", "--set", "image_size=16", "--set", "model=mlp",
            "--set", "mlp_hidden=[8]", "--set", "batch_size=4", "--set", "epochs=1", "--set", "corrupt_images=skip", "--set", "name=r"]);
        AssertRefused(r, "too few usable examples");
        Assert.False(File.Exists(Path.Combine(Out, "r", "summary.json")));
    }

    [Fact]
    public void AForkToAnIncompatibleModelLeavesNothingAndTheRightForkThenWorks()
    {
        Assert.Equal(0, CliProcess.Run(Train("src")).ExitCode);
        var bad = CliProcess.Run([.. Train("src", "model=smallcnn"), "--fork", "f"]);
        AssertRefused(bad, "--fork f");
        Assert.False(Directory.Exists(Path.Combine(Out, "f")));
        var good = CliProcess.Run([.. Train("src", "lr=0.02", "epochs=2"), "--fork", "f"]);
        Assert.True(good.ExitCode == 0, good.Stderr);
        Assert.Equal(0.02, ConfigFile.Load(Path.Combine(Out, "f", "config.json")).Lr);
    }

    [Theory]
    [InlineData("file", "sgd")]
    [InlineData("set", "adamw")]
    [InlineData("grid", "kfac")]
    [InlineData("set", "fop")]
    public void ANullSectionIsRefusedNamingTheKey(string how, string section)
    {
        var config = Path.Combine(dir, "c.json");
        File.WriteAllText(config, how == "file" ? $$"""{ "{{section}}": null }""" : "{}");
        string[] args = how switch
        {
            "grid" => ["sweep", "--config", config, "--data-dir", data, "--out", Out, "--grid", $"{section}=null"],
            "set" => ["train", "--config", config, "--data-dir", data, "--out", Out, "--set", $"{section}=null"],
            _ => ["train", "--config", config, "--data-dir", data, "--out", Out],
        };
        var r = CliProcess.Run(args);
        AssertRefused(r, $"{section} must not be null");
        if (how == "file") Assert.Contains(config, r.Stderr);
        Assert.False(Directory.Exists(Out));
    }

    [Fact]
    public async Task AWritePastTheFileSizeLimitFailsLikeAFullDiskAndKeepsTheCheckpoint()
    {
        Assert.Equal(0, CliProcess.Run(Train("r")).ExitCode);
        var checkpoint = Path.Combine(Out, "r", "checkpoint.bin");
        var before = File.ReadAllBytes(checkpoint);
        // A limit below the checkpoint's size (bash counts in 1024-byte blocks): the next checkpoint write is past it.
        long blocks = before.Length / 1024 / 2;
        var info = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { "-c", $"ulimit -f {blocks} && exec \"$0\" \"$@\"", "dotnet", Path.Combine(AppContext.BaseDirectory, "fop.dll") }.Concat([.. Train("r", "epochs=2"), "--resume"]))
            info.ArgumentList.Add(a);
        info.Environment["GLIBC_TUNABLES"] = "glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=17179869184";
        // The runtime's double-mapped code heap is a file-backed mapping that a file-size limit would stop at start-up.
        info.Environment["DOTNET_EnableWriteXorExecute"] = "0";
        using var p = Process.Start(info)!;
        var stderr = p.StandardError.ReadToEndAsync();
        var stdout = p.StandardOutput.ReadToEnd();
        Assert.True(p.WaitForExit(180_000));
        var r = new CliProcess.Result(p.ExitCode, stdout, await stderr, false);
        AssertRefused(r, "could not be written");
        Assert.Contains("checkpoint.bin", r.Stderr);
        Assert.Equal(before, File.ReadAllBytes(checkpoint));
    }

    [Fact]
    public void MissingCifarFilesAreNamed()
    {
        var cifar = StandInData.WriteCifar(Path.Combine(dir, "cifar"), 10, trainPerClass: 2, testPerClass: 1, seed: 1);
        File.Delete(Path.Combine(cifar, "test_batch.bin"));
        AssertRefused(CliProcess.Run(["train", "--data-dir", cifar, "--out", Out, "--set", "dataset=cifar10", "--set", "model=mlp"]), "test_batch.bin");
    }

    [Theory]
    [InlineData("{ \"epochs\": -1 }", "epochs must be >= 1, not -1.")]
    [InlineData("{ \"lr\": 0.1, \"lr\": 0.2 }", "Duplicate property 'lr'")]
    public void AnInvalidConfigFileIsOneLineNamingTheFile(string json, string message)
    {
        var config = Path.Combine(dir, "bad.json");
        File.WriteAllText(config, json);
        var r = CliProcess.Run(["train", "--config", config, "--data-dir", data, "--out", Out]);
        AssertRefused(r, $"{config}: ");
        Assert.Contains(message, r.Stderr);
        Assert.False(Directory.Exists(Out));
    }

    [Theory]
    [InlineData("comm-estimate --ranks 0,abc", "'abc' is not a whole number")]
    [InlineData("sweep --grid lr=0.01,,0.02", "an empty value between commas")]
    [InlineData("train --data-dir /no/such/folder", "data_dir /no/such/folder: no such folder")]
    [InlineData("train --device cuda", "device=cuda but CUDA is not available")]
    public void SmallMistakesAreClearErrors(string command, string message)
    {
        var r = CliProcess.Run(command.Split(' ').Concat(command.StartsWith("comm") ? [] : new[] { "--out", Out }));
        AssertRefused(r, message);
        Assert.False(Directory.Exists(Out));
    }

    [Fact]
    public void ResumeAfterTheCheckpointWasDeletedIsRefusedInsteadOfRestarting()
    {
        Assert.Equal(0, CliProcess.Run(Train("r")).ExitCode);
        var metrics = File.ReadAllText(Path.Combine(Out, "r", "metrics.csv"));
        File.Delete(Path.Combine(Out, "r", "checkpoint.bin"));
        AssertRefused(CliProcess.Run([.. Train("r", "epochs=2"), "--resume"]), "checkpoint.bin: missing");
        Assert.Equal(metrics, File.ReadAllText(Path.Combine(Out, "r", "metrics.csv")));
        // With nothing to resume, --resume starts the run and says so.
        var fresh = CliProcess.Run([.. Train("new"), "--resume"]);
        Assert.True(fresh.ExitCode == 0, fresh.Stderr);
        Assert.Contains("starting from the beginning", fresh.Stdout);
    }

    [Fact]
    public void ARunThatDivergesBeforeItsFirstEvaluationRecordsNoAccuracy()
    {
        // 30 steps an epoch: the weights blow up at once and 20 refused steps in a row end the run inside its first epoch.
        var r = CliProcess.Run(Train("d", "lr=1e12", "sgd.momentum=0", "batch_size=4", "epochs=3"));
        Assert.True(r.ExitCode == 1, r.Stderr);
        var summary = RunSummary.Read(Path.Combine(Out, "d", "summary.json"));
        Assert.NotNull(summary.Diverged);
        Assert.True(double.IsNaN(summary.BestTestAccuracy), $"best test accuracy {summary.BestTestAccuracy} without an evaluation");
    }

    [Fact]
    public void QuickstartPipedKeepsWholeTableRowsSavesTheTableAndReportsProgress()
    {
        var r = CliProcess.Run(["quickstart", "--data-dir", data, "--out", Out, "--epochs", "1", "--batch-size", "24", "--optimizers", "sgd,fop"]);
        Assert.True(r.ExitCode == 0, r.Stderr);
        // Piped output: each run's row is one line (the columns are not wrapped at 80 characters).
        Assert.Contains(r.Stdout.Split('\n'), l => l.Contains("time to target (epochs / s)"));
        Assert.Contains(r.Stdout.Split('\n'), l => l.Contains(" fop ") && l.Contains('%'));
        var table = File.ReadAllText(Path.Combine(Out, "table.md"));
        Assert.StartsWith("| run | optimizer |", table);
        Assert.Equal(4, table.Trim().Split('\n').Length);
        Assert.Contains("[sgd] epoch 1/1", r.Stdout);
    }
}
