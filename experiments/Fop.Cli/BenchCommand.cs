using System.ComponentModel;
using System.Diagnostics;
using System.Text.Json;
using Fop.Research.Models;
using Fop.Research.Optim;
using Fop.Research.Training;
using Spectre.Console;
using Spectre.Console.Cli;
using TorchSharp;
using static TorchSharp.torch;

namespace Fop.Cli;

internal sealed class BenchCommand : Command<BenchCommand.Settings>
{
    public sealed class Settings : CommandSettings
    {
        [CommandOption("--model <NAME>")]
        public string Model { get; init; } = "smallcnn";

        [CommandOption("--batch <N>")]
        public int Batch { get; init; } = 4096;

        [CommandOption("--optimizers <LIST>")]
        public string Optimizers { get; init; } = "sgd,adamw,kfac,fop";

        [CommandOption("--steps <K>"), Description("Measured steps per optimizer (rounded up to a whole number of curvature intervals).")]
        public int Steps { get; init; } = 20;

        [CommandOption("--warmup <K>")]
        public int Warmup { get; init; } = 2;

        [CommandOption("--interval <K>"), Description("Curvature and inverse interval of KFAC/FOP.")]
        public int Interval { get; init; } = 10;

        [CommandOption("--micro-batch <N>")]
        public int MicroBatch { get; init; }

        [CommandOption("--device <DEVICE>")]
        public string Device { get; init; } = "cpu";

        [CommandOption("--json <FILE>")]
        public string? Json { get; init; }
    }

    sealed record Row(string Optimizer, double MsPerStep, double MedianMs, double Forward, double Backward, double Curvature, double Update,
        double RatioToSgd = double.NaN, double RatioToKfac = double.NaN);

    public override int Execute(CommandContext context, Settings s, CancellationToken cancellation)
    {
        var device = DeviceChoice.Resolve(s.Device);
        var (shape, classes) = s.Model switch
        {
            "mlp" or "smallcnn" => (new long[] { 1, 28, 28 }, 10),
            "resnet18" or "resnet32" => (new long[] { 3, 32, 32 }, 10),
            "resnet50" => (new long[] { 3, 224, 224 }, 1000),
            "vit" => (new long[] { 3, 224, 224 }, 100),
            _ => throw new ArgumentException($"bench: unknown model '{s.Model}'."),
        };
        int steps = (int)Math.Ceiling(s.Steps / (double)s.Interval) * s.Interval;
        var rows = new List<Row>();
        foreach (var name in s.Optimizers.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            var config = ConfigFile.Load(null, [$"optimizer={name}", $"model={s.Model}", $"batch_size={s.Batch}", $"micro_batch_size={s.MicroBatch}",
                $"kfac.curvature_interval={s.Interval}", $"kfac.inverse_interval={s.Interval}", "fop.diagnostics_interval=0"]);
            torch.manual_seed(0);
            using var model = ModelCatalog.Create(s.Model, shape, classes);
            model.to(device);
            using var optimizer = OptimizerFactory.Create(config, model);
            using var x = torch.randn([s.Batch, .. shape], device: device);
            using var y = torch.randint(0, classes, [s.Batch], device: device);
            var timer = new PhaseTimer(device.type == DeviceType.CUDA ? () => torch.cuda.synchronize() : null);
            var times = new List<double>();
            for (int i = 0; i < s.Warmup + steps; i++)
            {
                optimizer.Timer = i >= s.Warmup ? timer : null;
                var sw = Stopwatch.StartNew();
                optimizer.Step(x, y, 0.01);
                if (device.type == DeviceType.CUDA) torch.cuda.synchronize();
                if (i >= s.Warmup) times.Add(sw.Elapsed.TotalMilliseconds);
            }
            // Warm-up steps shift the interval phase; the measured window still holds steps/interval curvature steps.
            var sorted = times.OrderBy(t => t).ToArray();
            double Per(StepPhase p) => timer.Milliseconds(p) / steps;
            var row = new Row(name, times.Average(), sorted[sorted.Length / 2], Per(StepPhase.Forward), Per(StepPhase.Backward), Per(StepPhase.Curvature), Per(StepPhase.Update));
            rows.Add(row);
            AnsiConsole.MarkupLine(Markup.Escape($"{name}: {row.MsPerStep:F1} ms/step (median {row.MedianMs:F1}; forward {row.Forward:F1}, backward {row.Backward:F1}, curvature {row.Curvature:F1}, update {row.Update:F1})"));
        }
        var sgd = rows.FirstOrDefault(r => r.Optimizer == "sgd");
        var kfac = rows.FirstOrDefault(r => r.Optimizer == "kfac");
        rows = rows.Select(r => r with
        {
            RatioToSgd = sgd is null ? double.NaN : r.MsPerStep / sgd.MsPerStep,
            RatioToKfac = kfac is null ? double.NaN : r.MsPerStep / kfac.MsPerStep,
        }).ToList();
        var table = new Table().AddColumns("optimizer", "ms/step (mean, amortised)", "median ms", "forward", "backward", "curvature", "update", "ratio to sgd", "ratio to kfac");
        foreach (var r in rows)
            table.AddRow(r.Optimizer, r.MsPerStep.ToString("F1"), r.MedianMs.ToString("F1"), r.Forward.ToString("F1"), r.Backward.ToString("F1"),
                r.Curvature.ToString("F1"), r.Update.ToString("F1"), r.RatioToSgd.ToString("F3"), r.RatioToKfac.ToString("F3"));
        AnsiConsole.Write(table);
        var machine = $"{Environment.ProcessorCount} cores, {torch.get_num_threads()} torch threads, {device.type}" + (device.type == DeviceType.CUDA ? "" : $", {System.Runtime.InteropServices.RuntimeInformation.OSDescription}");
        AnsiConsole.MarkupLine(Markup.Escape($"model {s.Model}, batch {s.Batch}, interval {s.Interval}, {steps} measured steps after {s.Warmup} warm-up; {machine}"));
        if (s.Json != null)
        {
            var doc = new
            {
                machine, model = s.Model, batch = s.Batch, interval = s.Interval, steps, warmup = s.Warmup, micro_batch = s.MicroBatch,
                rows = rows.Select(r => new
                {
                    optimizer = r.Optimizer, ms_per_step = r.MsPerStep, median_ms = r.MedianMs,
                    forward_ms = r.Forward, backward_ms = r.Backward, curvature_ms = r.Curvature, update_ms = r.Update,
                    ratio_to_sgd = r.RatioToSgd, ratio_to_kfac = r.RatioToKfac,
                }),
            };
            Fop.Research.Io.AtomicFile.WriteAllText(s.Json, JsonSerializer.Serialize(doc, new JsonSerializerOptions { WriteIndented = true, NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals }));
        }
        return 0;
    }
}
