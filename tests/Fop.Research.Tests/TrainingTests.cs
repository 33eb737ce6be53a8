using Fop.Research.Diagnostics;
using System.Text.Json;
using Fop.Research.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Fop.Research.Tests;

/// <summary>Config overrides, resumption with an identical trajectory, determinism and time-to-target.</summary>
public sealed class TrainingTests : IDisposable
{
    readonly string dir = Directory.CreateTempSubdirectory("fop-train-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    RunConfig SmallRun(string optimizer, params string[] sets)
    {
        var data = Path.Combine(dir, "fmnist");
        if (!Directory.Exists(data)) { Directory.CreateDirectory(data); DataTests.WriteFashionMnist(data, 120, 40); }
        return ConfigFile.Load(null, new[]
        {
            "model=mlp", "mlp_hidden=[16]", $"optimizer={optimizer}", $"data_dir={data}", "batch_size=24", "epochs=2", "lr=0.01",
            "kfac.curvature_interval=2", "kfac.inverse_interval=4", "fop.diagnostics_interval=1", $"output_dir={dir}", "target_accuracy=0.05",
        }.Concat(sets));
    }

    static Dictionary<string, Tensor> Weights(Trainer t) => t.Model!.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.detach().clone());

    [Theory]
    [InlineData("sgd")]
    [InlineData("kfac")]
    [InlineData("fop")]
    [InlineData("shampoo")]
    [InlineData("soap")]
    [InlineData("muon")]
    public void ARunKilledMidEpochAndResumedEndsWithTheSameWeights(string optimizer)
    {
        var config = SmallRun(optimizer, "name=full", "augment={\"crop_padding\":2,\"horizontal_flip\":true}");
        using var data = RunData.Load(config);
        var full = new Trainer(config, data);
        var reference = full.Run(Path.Combine(dir, "full"));
        var expected = Weights(full);

        var runDir = Path.Combine(dir, "killed");
        var killed = new Trainer(config, data) { StopAfterSteps = 7 };   // 5 steps per epoch: dies inside epoch 2
        var partial = killed.Run(runDir);
        Assert.False(partial.Completed);
        Assert.False(File.Exists(Path.Combine(runDir, "summary.json")));
        var resumed = new Trainer(config, data);
        var summary = resumed.Run(runDir, resume: true);
        Assert.True(summary.Completed);
        foreach (var (k, v) in Weights(resumed)) Assert.True(TestModels.MaxAbs(v, expected[k]) == 0, $"{k} differs after resume");
        Assert.Equal(reference.Steps, summary.Steps);
        Assert.Equal(reference.FinalTestAccuracy, summary.FinalTestAccuracy);
        // The logs hold each step and epoch once.
        Assert.Equal(reference.Steps, File.ReadAllLines(Path.Combine(runDir, "steps.csv")).Length - 1);
        Assert.Equal(2, File.ReadAllLines(Path.Combine(runDir, "metrics.csv")).Length - 1);
    }

    [Fact]
    public void RunsAreDeterministicForASeedAndWriteTheirFolder()
    {
        var config = SmallRun("fop", "name=a");
        using var data = RunData.Load(config);
        var a = new Trainer(config, data);
        var sa = a.Run(Path.Combine(dir, "a"));
        var b = new Trainer(config, data);
        b.Run(Path.Combine(dir, "b"));
        var wb = Weights(b);
        foreach (var (k, v) in Weights(a)) Assert.True(TestModels.MaxAbs(v, wb[k]) == 0);
        foreach (var f in new[] { "config.json", "metrics.csv", "steps.csv", "layers.csv", "summary.json", "checkpoint.bin" })
            Assert.True(File.Exists(Path.Combine(dir, "a", f)), f);
        Assert.Equal(ConfigFile.ToJson(config), ConfigFile.ToJson(ConfigFile.Load(Path.Combine(dir, "a", "config.json"))));
        Assert.NotNull(sa.TimeToTarget);
        Assert.Equal(1, sa.TimeToTarget!.Epoch);
        Assert.True(sa.TimeToTarget.WallSeconds >= sa.TimeToTarget.TrainSeconds);
        Assert.Contains("layers.0", File.ReadAllLines(Path.Combine(dir, "a", "layers.csv"))[1]);
        Assert.NotEmpty(sa.PreconditionedParameters);
    }

    [Fact]
    public void ADivergedRunEndsWithASummarySayingSoAndFiniteWeights()
    {
        var config = SmallRun("sgd", "name=diverge", "lr=1e30", "sgd.momentum=0", "epochs=10");
        using var data = RunData.Load(config);
        var trainer = new Trainer(config, data);
        var summary = trainer.Run(Path.Combine(dir, "diverge"));
        Assert.NotNull(summary.Diverged);
        Assert.False(summary.Completed);
        Assert.True(File.Exists(Path.Combine(dir, "diverge", "summary.json")));
        Assert.All(trainer.Model!.parameters(), p => Assert.True(p.isfinite().all().item<bool>()));
    }

    [Fact]
    public void ARunStuckBelowTheAbandonFloorStopsAfterItsGraceEpochs()
    {
        var config = SmallRun("sgd", "name=stalled", "epochs=5", "abandon_below=0.99", "abandon_after_epochs=2");
        using var data = RunData.Load(config);
        var summary = new Trainer(config, data).Run(Path.Combine(dir, "stalled"));
        Assert.Equal(2, summary.EpochsRun);
        Assert.Contains("stalled", summary.Diverged);
        Assert.Throws<ArgumentOutOfRangeException>(() => SmallRun("sgd", "abandon_below=1.5").Validate());
    }

    [Fact]
    public void AValidationSplitIsStratifiedSeededAndEvaluatedEveryEpoch()
    {
        var config = SmallRun("sgd", "name=validated", "epochs=2", "validation_examples=30", "validation_seed=4");
        using var data = RunData.Load(config);
        using var whole = RunData.Load(SmallRun("sgd"));
        Assert.Equal(whole.Train.Count - 30, data.Train.Count);
        Assert.Equal(30, data.Validation!.Count);
        var all = whole.Train.ClassCounts();
        var held = data.Validation.ClassCounts();
        for (int c = 0; c < all.Length; c++) Assert.True(Math.Abs(held[c] - all[c] * 30.0 / whole.Train.Count) < 1, $"class {c}: {held[c]} of {all[c]}");
        Assert.Equal(all, data.Train.ClassCounts().Zip(held, (a, b) => a + b));
        // The same seed holds out the same examples; another seed other ones.
        using var again = RunData.Load(config);
        using var other = RunData.Load(ConfigFile.Override(config, ["validation_seed=5"]));
        Assert.True(torch.eq(data.Validation.Images, again.Validation!.Images).all().item<bool>());
        Assert.False(torch.eq(data.Validation.Images, other.Validation!.Images).all().item<bool>());

        var summary = new Trainer(config, data).Run(Path.Combine(dir, "validated"));
        var rows = EpochMetrics.Read(Path.Combine(dir, "validated"));
        Assert.All(rows, r => Assert.True(r.HasValidation && r.ValAccuracy is >= 0 and <= 1));
        Assert.Equal(rows.Max(r => r.ValAccuracy), summary.BestValAccuracy, 5);
        Assert.Equal(rows[^1].ValAccuracy, summary.FinalValAccuracy, 5);
        Assert.EndsWith("val_loss,val_accuracy", File.ReadLines(Path.Combine(dir, "validated", "metrics.csv")).First());
        // With a split, in-run decisions (here the stall rule) read validation, never test.
        var judged = new Trainer(ConfigFile.Override(config, ["name=judged", "abandon_below=1", "abandon_after_epochs=1"]).Validate(), data).Run(Path.Combine(dir, "judged"));
        Assert.Contains("best validation accuracy", judged.Diverged);
        Assert.Throws<ArgumentOutOfRangeException>(() => RunData.Load(SmallRun("sgd", "validation_examples=100000")));
    }

    [Fact]
    public void TheKlClipFactorIsLoggedEveryStepAndOldLogsGainTheColumnOnResume()
    {
        var config = SmallRun("kfac", "name=nu", "epochs=1", "kfac.kl_clip=0.0001");
        using (var data = RunData.Load(config)) new Trainer(config, data).Run(Path.Combine(dir, "nu"));
        var steps = Tables(Path.Combine(dir, "nu", "steps.csv"));
        Assert.All(steps, r => Assert.InRange(double.Parse(r["kl_clip_factor"], System.Globalization.CultureInfo.InvariantCulture), 1e-9, 1.0));
        Assert.Contains(steps, r => double.Parse(r["kl_clip_factor"], System.Globalization.CultureInfo.InvariantCulture) < 1);

        // A log from before the column existed is carried over on resume, the new column empty.
        var old = Path.Combine(dir, "old.csv");
        File.WriteAllLines(old, ["step,loss", "0,1.5", "1,1.25"]);
        using (var log = new CsvLog(old, "step,loss,kl_clip_factor", resume: true, keep: _ => true)) log.Append(["2", "1.0", "0.5"]);
        Assert.Equal(["step,loss,kl_clip_factor", "0,1.5,", "1,1.25,", "2,1.0,0.5"], File.ReadAllLines(old));
    }

    static List<Dictionary<string, string>> Tables(string path)
    {
        var lines = File.ReadAllLines(path);
        var header = lines[0].Split(',');
        return lines.Skip(1).Select(l => header.Zip(l.Split(',')).ToDictionary(p => p.First, p => p.Second)).ToList();
    }

    [Fact]
    public void TheStallRuleCanCountStepsPastTheWarmUp()
    {
        // 120 examples at batch 24 are 5 steps per epoch; warm-up 7 steps, then 4 more: the rule applies from step 11, i.e. after epoch 3.
        var config = SmallRun("sgd", "name=stalled-steps", "epochs=6", "abandon_below=0.99", "abandon_after_steps_past_warmup=4",
            "schedule={\"kind\":\"constant\",\"warmup_steps\":7}");
        using var data = RunData.Load(config);
        var summary = new Trainer(config, data).Run(Path.Combine(dir, "stalled-steps"));
        Assert.Equal(3, summary.EpochsRun);
        Assert.Contains("(15 steps)", summary.Diverged);
    }

    [Theory]
    [InlineData("sgd")]
    [InlineData("kfac")]
    [InlineData("fop")]
    public void PhaseTimesAreNonNegativeAndAddUpToNoMoreThanTheSteps(string optimizer)
    {
        var config = SmallRun(optimizer);
        torch.manual_seed(0);
        using var model = Models.ModelCatalog.Create("mlp", [1, 28, 28], 10, [16]);
        using var opt = OptimizerFactory.Create(config, model);
        var timer = new Research.Diagnostics.PhaseTimer();
        opt.Timer = timer;
        using var x = torch.randn(24, 1, 28, 28);
        using var y = torch.randint(0, 10, [24]);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        for (int i = 0; i < 4; i++) opt.Step(x, y, 0.01);
        double total = clock.Elapsed.TotalMilliseconds;
        var phases = Enum.GetValues<Research.Diagnostics.StepPhase>().Select(timer.Milliseconds).ToArray();
        Assert.All(phases, p => Assert.True(p >= 0));
        Assert.True(phases.Sum() <= total + 1e-6, $"phases {phases.Sum()} ms > steps {total} ms");
        Assert.True(timer.Milliseconds(Research.Diagnostics.StepPhase.Forward) > 0 && timer.Milliseconds(Research.Diagnostics.StepPhase.Backward) > 0);
        Assert.Equal(optimizer != "sgd", timer.Milliseconds(Research.Diagnostics.StepPhase.Curvature) > 0);
    }

    [Fact]
    public void FullBatchWithMicroBatchesTakesOneStepPerEpoch()
    {
        var config = SmallRun("fop", "name=fullbatch", "batch_size=120", "micro_batch_size=16");
        using var data = RunData.Load(config);
        var s = new Trainer(config, data).Run(Path.Combine(dir, "fullbatch"));
        Assert.Equal(2, s.Steps);
    }

    [Fact]
    public void OverridesAreCheckedAgainstTheRecord()
    {
        var c = ConfigFile.Load(null, ["optimizer=fop", "kfac.damping=0.05", "fop.projection=false", "fop.beta=fixed", "fop.fixed_beta=0.5", "kfac.fisher=empirical", "kfac.ema_decay=0.9", "schedule.kind=cosine"]);
        Assert.Equal(0.05, c.Kfac.Damping.Start);
        Assert.False(c.Fop.Projection);
        Assert.Equal(Optim.BetaRule.Fixed, c.Fop.Beta);
        Assert.Equal(0.9, c.Kfac.EmaDecay);
        Assert.Contains("unknown key 'dampng'", Assert.Throws<ArgumentException>(() => ConfigFile.Load(null, ["kfac.dampng=1"])).Message);
        Assert.Contains("damping", Assert.ThrowsAny<ArgumentException>(() => ConfigFile.Load(null, ["optimizer=kfac", "kfac.damping=-1"])).Message);
        Assert.Contains("'lbfgs' is not one of sgd, adamw, kfac, fop, shampoo, soap, muon. (at $.optimizer)", Assert.Throws<ArgumentException>(() => ConfigFile.Load(null, ["optimizer=lbfgs"])).Message);
        Assert.Contains("'resnet9' is not one of mlp, smallcnn, smallcnn-bn, resnet18, resnet32, resnet50, vit.", Assert.Throws<ArgumentException>(() => ConfigFile.Load(null, ["model=resnet9"])).Message);
        Assert.Contains("'monte-carlo' is not one of empirical, monte_carlo, exact.", Assert.Throws<ArgumentException>(() => ConfigFile.Load(null, ["kfac.fisher=monte-carlo"])).Message);
        Assert.Equal(0.1 * 4096 / 256, ConfigFile.Load(null, ["lr=0.1", "base_batch_size=256", "batch_size=4096"]).ScaledLr, 12);
    }

    [Theory]
    [InlineData("kfac")]
    [InlineData("fop")]
    public void KfacAndFopStepWithTheConfigsOwnSgdAdamWAndClipping(string optimizer)
    {
        // sgd, adamw and grad_clip are held once, by the config; the optimizer it builds carries exactly those.
        var c = ConfigFile.Load(null, [$"optimizer={optimizer}", "sgd.momentum=0.5", "sgd.weight_decay=0.01", "adamw.beta2=0.99", "grad_clip=2", "kfac.unpreconditioned=adamw"]);
        using var model = TestModels.Mlp(1, 6, 4);
        using var opt = (Optim.NaturalGradientOptimizer)OptimizerFactory.Create(c, model);
        Assert.Equal(new Optim.TailOptions(new Optim.SgdOptions(0.5, false, 0.01), Optim.AdamWOptions.Default with { Beta2 = 0.99 }, 2), opt.TailOptions);
        Assert.Equal(c.Tail, opt.TailOptions);
    }

    [Fact]
    public void EveryCommittedConfigLoads()
    {
        var root = Data.DatasetFiles.RepositoryRoot() ?? throw new InvalidOperationException("repository root not found");
        var files = Directory.GetFiles(Path.Combine(root, "experiments", "configs"), "*.json", SearchOption.AllDirectories);
        Assert.NotEmpty(files);
        foreach (var f in files) ConfigFile.Load(f);
        // C# names say AdamW; the JSON keys configs and run records use stay "adamw".
        var vit = ConfigFile.Load(Path.Combine(root, "experiments", "configs", "imagenet100-vit", "kfac-b1024.json"));
        Assert.Equal(Optim.UnpreconditionedRule.AdamW, vit.Kfac.Unpreconditioned);
        var json = ConfigFile.ToJson(new RunConfig());
        foreach (var key in new[] { "\"adamw\":", "\"adamw_lr_ratio\":", "\"adamw_parameters\":" }) Assert.Contains(key, json);
        Assert.DoesNotContain("adam_w", json);
        // Optimizer, model and data set are enums in C#, their config names in JSON, run records and run names.
        var named = ConfigFile.Load(null, ["optimizer=adamw", "model=smallcnn-bn", "dataset=cifar100"]);
        Assert.Equal((Optim.OptimizerKind.AdamW, Models.ModelKind.SmallCnnBatchNorm, Data.DatasetKind.Cifar100), (named.Optimizer, named.Model, named.Dataset));
        Assert.Equal(("adamw", "smallcnn-bn", "cifar100"), (named.OptimizerName, named.ModelName, named.DatasetName));
        Assert.Contains("\"model\": \"smallcnn-bn\"", ConfigFile.ToJson(named));
        Assert.Equal(0.99, ConfigFile.Override(new RunConfig(), ["adamw.beta2=0.99"]).AdamW.Beta2);
    }
}
