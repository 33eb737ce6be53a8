using System.ComponentModel;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Fop.Research.Data;
using Fop.Research.Diagnostics;
using Fop.Research.Models;
using Fop.Research.Plots.Figures;
using Fop.Research.Plots.Views;
using Fop.Research.Training;
using Spectre.Console;
using Spectre.Console.Cli;
using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;
using Fop.Research.Devices;

namespace Fop.Cli;

/// <summary>`fop landscape`: loss landscapes, the FOP plane and sharpness around one or more trained checkpoints of the same model.</summary>
internal sealed class LandscapeCommand : Command<LandscapeCommand.Settings>
{
    public sealed class Settings : RunSettings
    {
        [CommandOption("--checkpoint <LABEL=PATH>"), Description("A checkpoint.bin of the config's model, optionally labelled (sgd=runs/x/checkpoint.bin). Repeatable; the first is the reference for interpolation.")]
        public string[] Checkpoints { get; init; } = [];

        [CommandOption("--compare <PATH>"), Description("A second checkpoint to interpolate to (same as a second --checkpoint).")]
        public string? Compare { get; init; }

        [CommandOption("--grid <N>"), Description("Points per axis of the 2-D grids (default 11).")]
        public int Grid { get; init; } = 11;

        [CommandOption("--subset <N>"), Description("Test examples in the fixed evaluation subset (default 1000).")]
        public int Subset { get; init; } = 1000;

        [CommandOption("--plane-batch <N>"), Description("Training examples in the batch that defines the FOP plane (default: the config's batch size, at most 4096).")]
        public int? PlaneBatch { get; init; }

        [CommandOption("--figures <DIR>"), Description("Where to write figures and landscape.md (default: runs/landscape).")]
        public string Figures { get; init; } = Path.Combine("runs", "landscape");
    }

    public override int Execute(CommandContext context, Settings s, CancellationToken cancellation)
    {
        var config = s.Load();
        var items = s.Checkpoints.Concat(s.Compare is null ? [] : [s.Compare]).Select(c =>
        {
            int eq = c.IndexOf('=');
            return eq > 0 ? (Label: c[..eq], Path: c[(eq + 1)..]) : (Label: Path.GetFileName(Path.GetDirectoryName(Path.GetFullPath(c))) ?? c, Path: c);
        }).ToList();
        if (items.Count == 0) throw new ArgumentException("--checkpoint: give at least one checkpoint.bin.");
        if (s.Grid < 3 || s.Subset < 10) throw new ArgumentException("--grid must be >= 3 and --subset >= 10.");
        if (config.Threads > 0) torch.set_num_threads(config.Threads);
        var device = DeviceChoice.Resolve(config.Device);
        using var data = RunData.Load(config, m => AnsiConsole.MarkupLine(Markup.Escape(m)));
        using var evalIdx = torch.arange(Math.Min(s.Subset, data.Test.Count), dtype: ScalarType.Int64);
        var (x, y) = data.Test.Batch(evalIdx, ImageView.Eval, device);
        int planeBatch = Math.Min(s.PlaneBatch ?? Math.Min(config.BatchSize, 4096), data.Train.Count);
        using var perm = BatchOrder.Permutation(data.Train.Count, config.Seed, 0);
        var planeIdx = perm.narrow(0, 0, planeBatch);
        var (px, py) = data.Train.Batch(planeIdx, ImageView.Eval, device);

        Module<Tensor, Tensor> NewModel() { var m = ModelCatalog.Create(config.Model, data.Train.ExampleShape, data.Train.NumClasses, config.MlpHidden); m.to(device); return m; }
        var models = items.Select(item =>
        {
            var model = NewModel();
            var (_, weights, optimizer) = Checkpoint.Load(item.Path);
            try { model.load_state_dict(weights.ToDictionary(kv => kv.Key, kv => kv.Value.to(device))); }
            catch (Exception e) when (e is ArgumentException or InvalidOperationException or System.Runtime.InteropServices.ExternalException)
            { throw new InvalidDataException($"{item.Path}: not a checkpoint of model '{config.ModelName}' ({e.Message}).", e); }
            foreach (var t in weights.Values.Concat(optimizer.Values)) t.Dispose();
            return (item.Label, item.Path, Model: model);
        }).ToList();

        var figures = new List<Figure>();
        var md = new StringBuilder($"# Loss landscapes: {config.ModelName} on {config.DatasetName}\n\nMade by `./fop landscape {string.Join(' ', context.Arguments.Skip(1))}`. Evaluation subset: the first {x.shape[0]} test examples, eval mode, no augmentation. ");
        md.Append($"FOP plane batch: {planeBatch} training examples (epoch-0 order of seed {config.Seed}), lr {config.ScaledLr:g4}, damping {config.Kfac.Damping}.\n\n");
        var numbers = new Dictionary<string, object>();
        var slices = new List<LandscapeCurve>();
        var interpolations = new List<LandscapeCurve>();
        var clock = System.Diagnostics.Stopwatch.StartNew();
        using var reference = new LossLandscape(models[0].Model, x, y);
        for (int k = 0; k < models.Count; k++)
        {
            var (label, path, model) = models[k];
            using var landscape = new LossLandscape(model, x, y) { OnProgress = Progress(label) };
            var origin = landscape.Evaluate();
            using var g = new Fop.Research.Randomness.SeededRandom(17);
            using var d1 = landscape.FilterNormalizedDirection(g);
            using var d2 = landscape.FilterNormalizedDirection(g);
            slices.Add(landscape.Slice(label, d1, LossLandscape.Range(-1, 1, 21)));
            var grid = landscape.Grid($"{label}: filter-normalised directions", d1, d2, LossLandscape.Range(-1, 1, s.Grid), LossLandscape.Range(-1, 1, s.Grid));
            figures.Add(LandscapeViews.Surface($"landscape-2d-{label}", $"{label}: loss around the solution (Li et al. 2018 directions)", grid,
                caption: "Filter-normalised random directions; the colour is log10 of the loss on the evaluation subset."));
            var plane = FopPlaneView.Compute(model, NewModel, px, py, landscape, config.Kfac, config.Fop, config.ScaledLr, s.Grid, config.MicroBatchSize, config.Seed);
            figures.Add(LandscapeViews.Plane($"fop-plane-{label}", plane, origin.Loss));
            using var sg = new Fop.Research.Randomness.SeededRandom(5);
            var top = Sharpness.TopEigenvalues(model, x.narrow(0, 0, Math.Min(500, x.shape[0])), y.narrow(0, 0, Math.Min(500, y.shape[0])), 2, 100, 1e-4, sg);
            var (trace, traceSe) = Sharpness.HutchinsonTrace(model, x.narrow(0, 0, Math.Min(500, x.shape[0])), y.narrow(0, 0, Math.Min(500, y.shape[0])), 30, sg);
            numbers[label] = new { checkpoint = path, loss = origin.Loss, accuracy = origin.Accuracy, top_eigenvalues = top, hessian_trace = trace, hessian_trace_se = traceSe,
                plane_steps = plane.Steps.Select(p => new { p.Label, a = p.A, b = p.B, out_of_plane = p.OutOfPlane, loss = p.Point.Loss }).ToList(), plane_perp_to_avg = plane.PerpToAvgRatio };
            md.Append($"- **{label}** (`{path}`): loss {origin.Loss:F4}, accuracy {100 * origin.Accuracy:F2}%, top Hessian eigenvalues {string.Join(", ", top.Select(v => v.ToString("g4", CultureInfo.InvariantCulture)))}, ");
            md.Append($"trace {trace:g4} ± {traceSe:g2}; one step from here on the plane batch lands at loss " +
                string.Join(", ", plane.Steps.Select(p => $"{p.Label} {p.Point.Loss:F4}")) + $" (from {origin.Loss:F4} on the evaluation subset).\n");
            if (k > 0)
            {
                using var other = ParameterVector.Of(model);
                interpolations.Add(reference.Interpolate($"{models[0].Label} -> {label}", other, LossLandscape.Range(-0.5, 1.5, 21)));
            }
        }
        figures.Insert(0, LandscapeViews.Curves("landscape-1d", "1-D slices along a filter-normalised direction", "alpha", slices,
            "Each solution along its own filter-normalised random direction (same seed): a wider basin is a flatter solution."));
        if (interpolations.Count > 0)
            figures.Insert(1, LandscapeViews.Curves("interpolation", "Linear interpolation between solutions", $"alpha (0 = {models[0].Label}, 1 = the other)", interpolations,
                "theta(alpha) = (1 - alpha) theta + alpha theta' (Goodfellow et al. 2015); a barrier between 0 and 1 separates the basins."));
        md.Append($"\nTook {clock.Elapsed:mm\\:ss} on {Environment.ProcessorCount} cores.\n\n");
        foreach (var f in figures)
        {
            var (png, _) = f.Save(s.Figures);
            md.Append($"## {f.Title}\n\n![{f.Name}]({Path.GetFileName(png)})\n\n{f.Caption}\n\n");
        }
        Fop.Research.Io.AtomicFile.WriteAllText(Path.Combine(s.Figures, "landscape.md"), md.ToString());
        Fop.Research.Io.AtomicFile.WriteAllText(Path.Combine(s.Figures, "landscape.json"), JsonSerializer.Serialize(numbers, new JsonSerializerOptions { WriteIndented = true, NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals }));
        AnsiConsole.MarkupLine(Markup.Escape($"wrote {figures.Count} figures, landscape.md and landscape.json to {s.Figures} in {clock.Elapsed:mm\\:ss}"));
        foreach (var m in models) m.Model.Dispose();
        return ExitCodes.Done;
    }

    static Action<int, int> Progress(string label) => (done, total) =>
    {
        if (done == total || done % Math.Max(1, total / 4) == 0) Console.WriteLine($"  [{label}] {done}/{total}");
    };
}
