using Fop.Research.Curvature;
using Fop.Research.Data;
using Fop.Research.Models;
using Fop.Research.Optim;
using Fop.Research.Training;
using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;
using Fop.Research.Randomness;

namespace Fop.Research.Devices;


/// <summary>
/// The checks a GPU run must pass (issue 13; `fop gpu-check`, and the GPU tests of `dotnet test` where a GPU is present):
/// SGD, AdamW, KFAC and FOP steps on the CPU and on the device agree within float32 tolerance; a step without inverse
/// or diagnostics reads to the host once; optimizer state and weights stay on the device; a short CIFAR ResNet-18 run
/// with BatchNorm, augmentation, micro-batches and the Monte-Carlo Fisher trains there end to end.
/// </summary>
public static class DeviceCheck
{
    /// <summary>The optimizers every check covers.</summary>
    public static IReadOnlyList<string> Optimizers { get; } = ["sgd", "adamw", "kfac", "fop"];

    /// <summary>Runs every check on <paramref name="device"/>, writing the training check's files under <paramref name="workDir"/>.</summary>
    public static IReadOnlyList<DeviceCheckResult> Run(Device device, string workDir) =>
        [.. Optimizers.Select(o => StepsAgree(o, device)), .. Optimizers.Select(o => OneReadPerStep(o, device)), VisualizersRun(device), TrainsEndToEnd(device, workDir)];

    static ModelOptimizer Create(string optimizer, Module<Tensor, Tensor> model, FisherType fisher, int inverseInterval)
    {
        // Empirical Fisher for the agreement check: Monte-Carlo labels are drawn on the CPU for every device (SeededRandom), but a
        // label can still flip where float rounding differences straddle a step of the CDF; the empirical Fisher keeps the check exact to rounding.
        var kfac = KfacOptions.Paper with { Fisher = fisher, CurvatureInterval = 1, InverseInterval = inverseInterval, Damping = new ValueSchedule(0.01), KlClip = 1e-2 };
        return optimizer switch
        {
            "sgd" => FirstOrderOptimizer.Sgd(model, SgdOptions.Paper, gradClip: 5.0),
            "adamw" => FirstOrderOptimizer.AdamW(model, AdamWOptions.Default),
            "kfac" => new Kfac(model, kfac, seed: 1),
            "fop" => new FopOptimizer(model, FopOptions.Paper with { DiagnosticsInterval = 0 }, kfac, seed: 1),
            _ => throw new ArgumentException($"optimizer '{optimizer}' is not one of {string.Join(", ", Optimizers)}."),
        };
    }

    static Module<Tensor, Tensor> SmallCnn(Device device)
    {
        torch.manual_seed(7);
        var model = ModelCatalog.Create("smallcnn", [1, 28, 28], 10);
        model.to(device);
        return model;
    }

    static (Tensor X, Tensor Y) Batch(int step)
    {
        using var random = new SeededRandom(0, RandomPurpose.DeviceCheck, step);
        return (random.Normal([128, 1, 28, 28], torch.CPU), random.Integers(0, 10, [128], torch.CPU));
    }

    /// <summary>Four steps of <paramref name="optimizer"/> from the same weights on the same batches, on the CPU and on <paramref name="device"/>: the largest weight difference relative to the largest weight.</summary>
    public static DeviceCheckResult StepsAgree(string optimizer, Device device)
    {
        // TF32 off (the toolkit's default, set explicitly): the tolerance is float32's; with TF32 it would be AgreementTolerance(true).
        DeviceChoice.SetTf32(device, false);
        var cpuModel = SmallCnn(torch.CPU);
        var deviceModel = SmallCnn(device);
        using var cpu = Create(optimizer, cpuModel, FisherType.Empirical, 2);
        using var onDevice = Create(optimizer, deviceModel, FisherType.Empirical, 2);
        for (int step = 0; step < 4; step++)
        {
            using var scope = torch.NewDisposeScope();
            var (x, y) = Batch(step);
            var a = cpu.Step(x, y, 0.02);
            var b = onDevice.Step(x.to(device), y.to(device), 0.02);
            if (a.Skipped || b.Skipped) return new($"{optimizer}: CPU and device steps agree", false, $"step {step} refused: {a.Message ?? b.Message}");
        }
        double worst = 0, scale = 0;
        foreach (var ((name, p), (_, q)) in cpuModel.named_parameters().Zip(deviceModel.named_parameters()))
        {
            using var diff = (p.detach() - q.detach().cpu()).abs().max();
            using var size = p.detach().abs().max();
            worst = Math.Max(worst, diff.item<float>());
            scale = Math.Max(scale, size.item<float>());
        }
        double relative = worst / scale;
        bool stateOnDevice = onDevice.StateDict().All(kv => kv.Value.device.type == device.type)
                             && deviceModel.parameters().All(p => p.device.type == device.type);
        double limit = DeviceChoice.AgreementTolerance(tf32: false);
        return new($"{optimizer}: CPU and device steps agree", relative < limit && stateOnDevice,
            $"max |w_cpu - w_device| / max |w| = {relative:E2} after 4 steps (float32, TF32 off; limit {limit:g1}); optimizer state and weights on {device.type}: {stateOnDevice}");
    }

    /// <summary>
    /// What steps 1-3 (no inverse rebuild, no diagnostics) on <paramref name="device"/> wait on: exactly one host read each,
    /// no blocking copy and no decomposition check (<see cref="DeviceSyncs"/>).
    /// </summary>
    public static DeviceCheckResult OneReadPerStep(string optimizer, Device device)
    {
        using var opt = Create(optimizer, SmallCnn(device), FisherType.MonteCarlo, 100);
        var syncs = new List<SyncCounts>();
        for (int step = 0; step < 4; step++)
        {
            using var scope = torch.NewDisposeScope();
            var (x, y) = Batch(step);
            using var xd = DeviceSyncs.To(x, device);
            using var yd = DeviceSyncs.To(y, device);
            var before = DeviceSyncs.Counts;
            var result = opt.Step(xd, yd, 0.02);
            if (result.Skipped) return new($"{optimizer}: one host read per step", false, $"step {step} refused: {result.Message}");
            syncs.Add(DeviceSyncs.Counts - before);
        }
        bool ok = syncs.Skip(1).All(s => s.HostReads == 1 && s.Total == 1);
        return new($"{optimizer}: one host read per step", ok, $"waits per step: {string.Join("; ", syncs)} (step 0 builds the inverses)");
    }

    /// <summary>A loss-landscape grid, the FOP plane and Hessian sharpness around a small CNN on <paramref name="device"/> (their random directions and probes drawn there).</summary>
    public static DeviceCheckResult VisualizersRun(Device device)
    {
        using var scope = torch.NewDisposeScope();
        var model = SmallCnn(device);
        var (x, y) = Batch(0);
        (x, y) = (x.narrow(0, 0, 32).to(device), y.narrow(0, 0, 32).to(device));
        try
        {
            using var landscape = new Diagnostics.LossLandscape(model, x, y, batchSize: 64);
            using var g = new SeededRandom(3);
            using var d1 = landscape.FilterNormalizedDirection(g);
            using var d2 = landscape.FilterNormalizedDirection(g);
            var grid = landscape.Grid("check", d1, d2, [-0.5, 0, 0.5], [-0.5, 0, 0.5]);
            var plane = Diagnostics.FopPlaneView.Compute(model, () => SmallCnn(device), x, y, landscape, KfacOptions.Paper with { Damping = new ValueSchedule(0.01) },
                FopOptions.Paper, 0.01, gridSize: 3);
            using var probes = new SeededRandom(5);
            var top = Diagnostics.Sharpness.TopEigenvalues(model, x, y, 1, maxIterations: 10, tolerance: 1e-3, random: probes);
            var (trace, _) = Diagnostics.Sharpness.HutchinsonTrace(model, x, y, 4, probes);
            bool finite = double.IsFinite(top[0]) && double.IsFinite(trace) && plane.Steps.Count > 0 && grid.Points.Length == 9;
            return new("landscape, FOP plane and sharpness run on the device", finite,
                $"3x3 grid, plane with {plane.Steps.Count} steps, top Hessian eigenvalue {top[0]:G3}, trace {trace:G3} (10 power iterations, 4 probes)");
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException or System.Runtime.InteropServices.ExternalException)
        {
            return new("landscape, FOP plane and sharpness run on the device", false, e.Message);
        }
    }

    /// <summary>Eight steps of FOP on a stand-in CIFAR-10 with ResNet-18 (BatchNorm, augmentation, micro-batches, Monte-Carlo Fisher) on <paramref name="device"/>.</summary>
    public static DeviceCheckResult TrainsEndToEnd(Device device, string workDir)
    {
        var dataDir = Path.Combine(workDir, "data");
        StandInData.WriteCifar(dataDir, 10, trainPerClass: 26, testPerClass: 4, seed: 1);
        var config = ConfigFile.Load(null, ["dataset=cifar10", $"data_dir={dataDir}", "model=resnet18", "optimizer=fop", "batch_size=64",
            "micro_batch_size=32", "max_steps=8", "epochs=2", "lr=0.01", "augment.crop_padding=4", "augment.horizontal_flip=true",
            "kfac.curvature_interval=2", "kfac.inverse_interval=4", $"device={(device.type == DeviceType.CUDA ? "cuda" : "cpu")}", $"output_dir={workDir}"]);
        using var runData = RunData.Load(config);
        var syncs = new List<SyncCounts>();
        var summary = new Trainer(config, runData) { OnProgress = p => syncs.Add(p.StepSyncs) }.Run(Path.Combine(workDir, "resnet18-fop"));
        // Steps 1, 3, 5, 7 rebuild no inverse: the trainer's clock synchronises once and the step reads once, nothing else waits.
        var plain = syncs.Where((_, i) => i % 4 != 0).ToList();
        bool ok = summary.Steps == 8 && summary.SkippedSteps == 0 && summary.Diverged is null && plain.All(s => s.HostReads == 1 && s.Synchronizes == 1 && s.Total == 2);
        return new("FOP trains CIFAR ResNet-18 end to end", ok,
            $"{summary.Steps} steps on {summary.Device}, {summary.SkippedSteps} refused, median {summary.MedianStepMs:F1} ms/step, best test accuracy {summary.BestTestAccuracy:P1} (stand-in data); " +
            $"waits per step without an inverse: {string.Join("; ", plain.Distinct())}; with: {string.Join("; ", syncs.Where((_, i) => i % 4 == 0).Distinct())}");
    }
}
