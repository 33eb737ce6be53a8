using Fop.Research.Devices;
using System.ComponentModel;
using System.Globalization;
using Fop.Research.Training;
using Spectre.Console;
using Spectre.Console.Cli;
using TorchSharp;

namespace Fop.Cli;

/// <summary>
/// `fop reference-step`: writes a step case (weights, batches, options, and each optimizer's weights after each step) for
/// experiments/gpu/pytorch_reference.py --compare, which reproduces the steps in PyTorch (ReferenceStep).
/// </summary>
internal sealed class ReferenceStepCommand : Command<ReferenceStepCommand.Settings>
{
    public sealed class Settings : CommandSettings
    {
        [CommandOption("--model <NAME>"), Description("mlp, smallcnn, smallcnn-bn or resnet18 (default smallcnn-bn).")]
        public string Model { get; init; } = "smallcnn-bn";

        [CommandOption("--batch <N>"), Description("Examples per step, at least 2 (default 32).")]
        public int Batch { get; init; } = 32;

        [CommandOption("--image <SIDE>"), Description("Image side in pixels, at least 8 (default: 28 for mlp and smallcnn, 32 for resnet18); small images make small cases fast.")]
        public int Image { get; init; }

        [CommandOption("--steps <N>"), Description("Steps of each optimizer from the same start (default 2: the second covers EMA factors and momentum).")]
        public int Steps { get; init; } = 2;

        [CommandOption("--optimizers <LIST>"), Description("Comma-separated, from sgd, kfac, fop (default all three).")]
        public string Optimizers { get; init; } = "sgd,kfac,fop";

        [CommandOption("--dtype <TYPE>"), Description("float64 (default; agreement to round-off) or float32.")]
        public string Dtype { get; init; } = "float64";

        [CommandOption("--lr <LR>"), Description("Learning rate of every step (default 0.05).")]
        public double Lr { get; init; } = 0.05;

        [CommandOption("--seed <S>"), Description("Seed of the weights and batches (default 0).")]
        public long Seed { get; init; }

        [CommandOption("--set <KEY=VALUE>"), Description("Config overrides after the comparison settings (e.g. kfac.damping_form=eigen, fop.eta_reference=sum). Repeatable.")]
        public string[] Set { get; init; } = [];

        [CommandOption("--device <DEVICE>"), Description("cpu, cuda or auto (default cpu).")]
        public string Device { get; init; } = "cpu";

        [CommandOption("--out <DIR>"), Description("Folder to write the case into (required; created when missing).")]
        public string? Out { get; init; }
    }

    public override int Execute(CommandContext context, Settings s, CancellationToken cancellation)
    {
        if (string.IsNullOrWhiteSpace(s.Out)) throw new ArgumentException("--out: give the folder to write the case into.");
        var dtype = s.Dtype switch
        {
            "float64" => torch.ScalarType.Float64,
            "float32" => torch.ScalarType.Float32,
            _ => throw new ArgumentException($"--dtype '{s.Dtype}': expected float64 or float32."),
        };
        if (!(s.Lr > 0) || double.IsInfinity(s.Lr)) throw new ArgumentException($"--lr {s.Lr.ToString(CultureInfo.InvariantCulture)}: must be > 0 and finite.");
        var optimizers = s.Optimizers.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        if (s.Image != 0 && s.Image < 8) throw new ArgumentException($"--image {s.Image}: at least 8 pixels.");
        var config = ReferenceStep.Config(s.Model, s.Batch, s.Lr, s.Seed, s.Set);
        var device = DeviceChoice.Resolve(s.Device);
        var manifest = ReferenceStep.Write(s.Out, config, optimizers, s.Steps, dtype, device, s.Image);
        AnsiConsole.MarkupLine(Markup.Escape($"wrote {Path.Combine(s.Out, "case.json")}: {s.Model}, batch {s.Batch}, {s.Steps} step(s) of {string.Join(", ", optimizers)} in {s.Dtype} on {RunView.Machine(device)}"));
        foreach (var (name, node) in manifest["optimizers"]!.AsObject())
            foreach (var step in node!["steps"]!.AsArray())
                AnsiConsole.MarkupLine(Markup.Escape($"  {name} step {step!["step"]}: loss {(double)step["loss"]!:F6}" +
                    (step["kl_clip_factor"] is { } nu ? $", KL-clip factor {(double)nu:F4}" : "")));
        AnsiConsole.MarkupLine(Markup.Escape($"compare: python3 experiments/gpu/pytorch_reference.py --compare {s.Out}"));
        return ExitCodes.Done;
    }
}
