using Fop.Research.Devices;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Fop.Research.Io;
using Fop.Research.Models;
using Fop.Research.Optim;
using Fop.Research.Randomness;
using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Fop.Research.Training;

/// <summary>
/// A step case for an independent implementation (experiments/gpu/fop_reference.py, in PyTorch) to reproduce: a model
/// built with a fixed seed, fixed random batches, the options in force, and for each optimizer the parameters and
/// BatchNorm buffers after each of a few steps from the same start. Written as raw tensors (<see cref="RawTensorFolder"/>)
/// and a manifest, case.json, so that the reader needs numpy and nothing of .NET.
/// </summary>
public static class ReferenceStep
{
    /// <summary>The models a case may use: those the Python reference mirrors layer for layer.</summary>
    public static IReadOnlyList<string> Models { get; } = ["mlp", "smallcnn", "smallcnn-bn", "resnet18"];

    /// <summary>The optimizers a case may hold.</summary>
    public static IReadOnlyList<string> Optimizers { get; } = ["sgd", "kfac", "fop"];

    /// <summary>
    /// Settings under which a step is determined by the weights and the batch alone, so the reference needs no copy of the
    /// toolkit's random draws: the empirical Fisher (true labels), factors from every example and every conv position, the
    /// whole batch in one chunk. Curvature and inverses at every step with EMA factors, so a second step covers the EMA and
    /// momentum; a KL clip and FOP's per-layer s, beta and eta at every step. Overrides given later win.
    /// </summary>
    public static IReadOnlyList<string> ComparisonSettings { get; } =
    [
        "kfac.fisher=empirical", "kfac.factor_examples=null", "kfac.conv_positions=null", "micro_batch_size=0",
        "kfac.curvature_interval=1", "kfac.inverse_interval=1", "kfac.ema_decay=0.95", "kfac.damping=0.01", "kfac.kl_clip=0.001",
        "fop.diagnostics_interval=1",
    ];

    // A position of its own in the device checks' random streams, so the case's batches are no other check's.
    const long BatchStream = 27;

    /// <summary>
    /// Example shape (C, H, W) and class count of <paramref name="model"/> in a case: Fashion-MNIST's channels and classes for
    /// the small models, CIFAR-10's for ResNet-18, with images <paramref name="side"/> wide (0: 28 and 32, the data sets').
    /// </summary>
    public static (long[] Shape, int Classes) InputOf(ModelKind model, int side = 0)
    {
        if (side != 0 && side < 8) throw new ArgumentException($"image side must be at least 8 (ResNet-18 and the small CNN halve it two or three times), got {side}.");
        if (!Models.Contains(Io.ConfigNames.Of(model)))
            throw new ArgumentException($"model '{Io.ConfigNames.Of(model)}' has no reference mirror; use one of {string.Join(", ", Models)}.");
        var (shape, classes) = ModelCatalog.NativeInput(model);
        return (side == 0 ? shape : [shape[0], side, side], classes);
    }

    /// <summary>The run config of a case: <see cref="ComparisonSettings"/>, then <paramref name="overrides"/> (key=value, as --set), validated.</summary>
    public static RunConfig Config(string model, int batch, double lr, long seed, IEnumerable<string> overrides) =>
        ConfigFile.Load(null, [$"model={model}", $"batch_size={batch}", $"lr={lr.ToString("R", CultureInfo.InvariantCulture)}", $"seed={seed}",
            .. ComparisonSettings, .. overrides]);

    /// <summary>
    /// Writes the case into <paramref name="dir"/>: <paramref name="steps"/> steps of each of <paramref name="optimizers"/>
    /// in <paramref name="dtype"/> on <paramref name="device"/>, from the same weights on the same batches, images
    /// <paramref name="imageSide"/> wide (0: the data set's). Returns the
    /// manifest (also written as case.json). A refused step is an error: a case must hold steps that did their work.
    /// </summary>
    public static JsonObject Write(string dir, RunConfig config, IReadOnlyList<string> optimizers, int steps, ScalarType dtype, Device device, int imageSide = 0)
    {
        var (shape, classes) = InputOf(config.Model, imageSide);
        if (optimizers.Count == 0) throw new ArgumentException("optimizers: name at least one.");
        if (optimizers.FirstOrDefault(o => !Optimizers.Contains(o)) is { } unknown)
            throw new ArgumentException($"optimizers: '{unknown}' is not one of {string.Join(", ", Optimizers)}.");
        if (optimizers.Distinct().Count() != optimizers.Count) throw new ArgumentException("optimizers: each may appear once.");
        if (steps < 1) throw new ArgumentException($"steps must be >= 1, got {steps}.");
        if (dtype is not (ScalarType.Float64 or ScalarType.Float32)) throw new ArgumentException($"dtype must be float64 or float32, got {dtype}.");
        if (config.BatchSize < 2) throw new ArgumentException($"batch must be >= 2 (FOP splits it in halves), got {config.BatchSize}.");
        DeviceChoice.SetTf32(device, config.Tf32);

        var folder = new RawTensorFolder(dir);
        using var start = Build(config, shape, classes, dtype);
        var initial = WriteState(folder, "initial", start);

        var batches = new List<(Tensor X, Tensor Y)>();
        var batchJson = new JsonArray();
        for (int k = 0; k < steps; k++)
        {
            using var random = new SeededRandom(config.Seed, RandomPurpose.DeviceCheck, BatchStream, k);
            var x = random.Normal([config.BatchSize, .. shape], torch.CPU).to_type(dtype).DetachFromDisposeScope();
            var y = random.Integers(0, classes, [config.BatchSize], torch.CPU).DetachFromDisposeScope();
            batches.Add((x, y));
            batchJson.Add(new JsonObject { ["x"] = folder.Write($"batch{k}.x", x).ToJson(), ["y"] = folder.Write($"batch{k}.y", y).ToJson() });
        }

        var results = new JsonObject();
        try
        {
            foreach (var name in optimizers)
                results[name] = Run(folder, config with { Optimizer = Io.ConfigNames.Parse<OptimizerKind>(name, "optimizer") }, start, shape, classes, dtype, device, batches);
        }
        finally
        {
            foreach (var (x, y) in batches) { x.Dispose(); y.Dispose(); }
        }

        var manifest = new JsonObject
        {
            ["format"] = "fop-reference-step 1",
            ["model"] = config.ModelName,
            ["input_shape"] = new JsonArray(shape.Select(s => (JsonNode)s).ToArray()),
            ["classes"] = classes,
            ["batch"] = config.BatchSize,
            ["steps"] = steps,
            ["dtype"] = dtype == ScalarType.Float64 ? "float64" : "float32",
            ["device"] = device.type == DeviceType.CUDA ? "cuda" : "cpu",
            ["seed"] = config.Seed,
            ["lr"] = config.Lr,
            ["config"] = JsonNode.Parse(ConfigFile.ToJson(config)),
            ["initial"] = initial,
            ["batches"] = batchJson,
            ["optimizers"] = results,
        };
        AtomicFile.WriteAllText(Path.Combine(dir, "case.json"), manifest.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        return manifest;
    }

    static Module<Tensor, Tensor> Build(RunConfig config, long[] shape, int classes, ScalarType dtype)
    {
        torch.manual_seed(config.Seed);
        var model = ModelCatalog.Create(config.Model, shape, classes, config.MlpHidden);
        model.to(dtype);
        return model;
    }

    /// <summary>Every parameter and buffer of <paramref name="model"/>, each entry named as the model names it (the prefix only labels the file).</summary>
    static JsonArray WriteState(RawTensorFolder folder, string prefix, Module<Tensor, Tensor> model)
    {
        var entries = new JsonArray();
        foreach (var (name, t, kind) in model.named_parameters().Select(p => (p.name, (Tensor)p.parameter, "parameter"))
                     .Concat(model.named_buffers().Select(b => (b.name, b.buffer, "buffer"))))
        {
            var entry = folder.Write($"{prefix}.{name}", t).ToJson();
            entry["name"] = name;
            entry["kind"] = kind;
            entries.Add(entry);
        }
        return entries;
    }

    static JsonObject Run(RawTensorFolder folder, RunConfig config, Module<Tensor, Tensor> start, long[] shape, int classes, ScalarType dtype, Device device,
        IReadOnlyList<(Tensor X, Tensor Y)> batches)
    {
        using var model = Build(config, shape, classes, dtype);
        using (torch.no_grad())
        {
            var from = start.state_dict();
            foreach (var (name, t) in model.state_dict()) t.copy_(from[name]);
        }
        model.to(device);
        model.train();
        using var optimizer = OptimizerFactory.Create(config, model);
        var steps = new JsonArray();
        for (int k = 0; k < batches.Count; k++)
        {
            using var scope = torch.NewDisposeScope();
            var r = optimizer.Step(batches[k].X.to(device), batches[k].Y.to(device), config.Lr);
            if (r.Skipped) throw new InvalidOperationException($"reference case: {config.OptimizerName} step {k} was refused ({r.Message}); lower lr or raise kfac.damping.");
            var step = new JsonObject
            {
                ["step"] = k,
                ["loss"] = r.Loss,
                ["correct"] = r.Correct,
                ["kl_clip_factor"] = r.KlClipFactor,
                ["state"] = WriteState(folder, $"{config.OptimizerName}.step{k}", model),
            };
            if (r.Fop is { } fop)
                step["fop"] = new JsonArray(fop.Layers.Select(l => (JsonNode)new JsonObject { ["layer"] = l.Layer, ["s"] = l.S, ["beta"] = l.Beta, ["eta"] = l.Eta }).ToArray());
            steps.Add(step);
        }
        return new JsonObject { ["preconditioned"] = new JsonArray(optimizer.PreconditionedParameters.Select(p => (JsonNode)p).ToArray()), ["steps"] = steps };
    }
}
