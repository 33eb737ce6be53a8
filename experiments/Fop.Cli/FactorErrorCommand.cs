using System.ComponentModel;
using System.Globalization;
using System.Text;
using Fop.Research.Curvature;
using Fop.Research.Data;
using Fop.Research.Diagnostics;
using Fop.Research.Models;
using Fop.Research.Training;
using Spectre.Console;
using Spectre.Console.Cli;
using TorchSharp;
using static TorchSharp.torch;
using Fop.Research.Devices;

namespace Fop.Cli;

/// <summary>`fop factor-error`: how far KFAC's factors from a subset of examples and of conv positions are from the full batch's, per layer.</summary>
internal sealed class FactorErrorCommand : Command<FactorErrorCommand.Settings>
{
    public sealed class Settings : RunSettings
    {
        [CommandOption("--checkpoint <FILE>"), Description("Weights to measure at (a run's checkpoint.bin); default: the seed's initial weights.")]
        public string? Checkpoint { get; init; }

        [CommandOption("--examples <N>"), Description("factor_examples of the cheap statistics (0: all).")]
        public int Examples { get; init; }

        [CommandOption("--positions <N>"), Description("conv_positions of the cheap statistics (0: all).")]
        public int Positions { get; init; }

        [CommandOption("--draws <N>"), Description("Seeded draws to average.")]
        public int Draws { get; init; } = 5;

        [CommandOption("--markdown <FILE>"), Description("Also write the table as markdown.")]
        public string? Markdown { get; init; }
    }

    public override int Execute(CommandContext context, Settings s, CancellationToken cancellation)
    {
        if (s.Examples <= 0 && s.Positions <= 0) throw new ArgumentException("give --examples and/or --positions: with neither the statistics are the full ones.");
        var config = s.Load();
        if (config.Threads > 0) torch.set_num_threads(config.Threads);
        var device = DeviceChoice.Resolve(config.Device);
        using var data = RunData.Load(config, m => AnsiConsole.MarkupLine(Markup.Escape(m)));
        torch.manual_seed(config.Seed);
        var model = ModelCatalog.Create(config.Model, data.Train.ExampleShape, data.Train.NumClasses, config.MlpHidden);
        if (s.Checkpoint is { } path)
        {
            var (_, weights, optimizerState) = Fop.Research.Training.Checkpoint.Load(path);
            model.load_state_dict(weights);
            foreach (var t in weights.Values.Concat(optimizerState.Values)) t.Dispose();
        }
        model.to(device);
        model.train();
        using var permutation = BatchOrder.Permutation(data.Train.Count, config.Seed, 0);
        var (x, y) = data.Train.Batch(BatchOrder.BatchIndices(permutation, 0, config.BatchSize), ImageView.Eval, device);
        var full = config.Kfac with { Fisher = FisherType.Empirical, FactorExamples = null, ConvPositions = null };
        var cheap = full with { FactorExamples = s.Examples > 0 ? s.Examples : null, ConvPositions = s.Positions > 0 ? s.Positions : null };
        var errors = FactorError.Compare(model, x, y, full, cheap, s.Draws, config.MicroBatchSize);

        var label = $"{config.ModelName} on {config.DatasetName}{(s.Checkpoint is null ? " at initialisation" : $" at {s.Checkpoint}")}, batch {x.shape[0]}, " +
                    $"factor_examples {(s.Examples > 0 ? s.Examples : "all")}, conv_positions {(s.Positions > 0 ? s.Positions : "all")}, empirical Fisher, mean of {s.Draws} draws";
        var md = new StringBuilder();
        md.AppendLine($"Relative Frobenius error |F_cheap - F_full|_F / |F_full|_F of the Kronecker factors: {label}.");
        md.AppendLine();
        md.AppendLine("| layer | A side | G side | error of A | error of G |");
        md.AppendLine("|---|---|---|---|---|");
        var table = new Table().AddColumns("layer", "A side", "G side", "error of A", "error of G");
        foreach (var e in errors)
        {
            string a = e.AError.ToString("F3", CultureInfo.InvariantCulture), g = e.GError.ToString("F3", CultureInfo.InvariantCulture);
            table.AddRow(Markup.Escape(e.Layer), e.ADim.ToString(), e.GDim.ToString(), a, g);
            md.AppendLine($"| {e.Layer} | {e.ADim} | {e.GDim} | {a} | {g} |");
        }
        AnsiConsole.Write(table);
        AnsiConsole.MarkupLine(Markup.Escape(label));
        if (s.Markdown is { } file)
        {
            Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(file))!);
            Fop.Research.Io.AtomicFile.WriteAllText(file, md.ToString());
        }
        return 0;
    }
}
