using Fop.Research.Plots.Views;
using System.ComponentModel;
using Fop.Research.Plots;
using Fop.Research.Training;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Fop.Cli;

internal sealed class QuickstartCommand : Command<QuickstartCommand.Settings>
{
    public sealed class Settings : CommandSettings
    {
        [CommandOption("--optimizers <LIST>"), Description("Comma-separated optimizers to compare (default sgd,adamw,kfac,fop).")]
        public string Optimizers { get; init; } = "sgd,adamw,kfac,fop";

        [CommandOption("--epochs <N>"), Description("Epochs per optimizer (default 3).")]
        public int Epochs { get; init; } = 3;

        [CommandOption("--batch-size <N>"), Description("Examples per step (default 256; the learning rates are tuned for it).")]
        public int BatchSize { get; init; } = 256;

        [CommandOption("--device <DEVICE>"), Description("cpu, cuda or auto (default cpu).")]
        public string Device { get; init; } = "cpu";

        [CommandOption("--data-dir <DIR>"), Description("Folder holding Fashion-MNIST (default: datasets/fashion-mnist, $FOP_DATA, the Debian package's folder, else downloaded).")]
        public string? DataDir { get; init; }

        [CommandOption("--out <DIR>"), Description("Where the runs, table.md and the plot go (default runs/quickstart).")]
        public string Out { get; init; } = "runs/quickstart";
    }

    /// <summary>Per-optimizer learning rates for the small CNN at batch 256 (from short sweeps on this data).</summary>
    static readonly Dictionary<string, string[]> Presets = new()
    {
        ["sgd"] = ["lr=0.05"],
        ["adamw"] = ["lr=0.002", "adamw.weight_decay=0.01"],
        ["kfac"] = ["lr=0.003", "kfac.damping=0.01"],
        ["fop"] = ["lr=0.003", "kfac.damping=0.01"],
    };

    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellation)
    {
        var names = settings.Optimizers.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var summaries = new List<RunSummary>();
        RunData? data = null;
        try
        {
            foreach (var name in names)
            {
                if (!Presets.TryGetValue(name, out var preset)) throw new ArgumentException($"quickstart: unknown optimizer '{name}' (use {string.Join(", ", Presets.Keys)}).");
                var sets = new List<string>
                {
                    "dataset=fashion-mnist", "model=smallcnn", $"optimizer={name}", $"name={name}", $"epochs={settings.Epochs}",
                    $"batch_size={settings.BatchSize}", $"device={settings.Device}", $"output_dir={settings.Out}", "target_accuracy=0.88", "schedule.kind=cosine",
                };
                if (settings.DataDir != null) sets.Add($"data_dir={settings.DataDir}");
                sets.AddRange(preset);
                var config = ConfigFile.Load(null, sets);
                data ??= RunData.Load(config, m => AnsiConsole.MarkupLine(Markup.Escape(m)));
                summaries.Add(RunView.Run(config, data, Path.Combine(settings.Out, name), resume: false));
            }
        }
        finally { data?.Dispose(); }
        AnsiConsole.Write(RunView.SummaryTable(summaries));
        var tablePath = Path.Combine(settings.Out, "table.md");
        Fop.Research.Io.AtomicFile.WriteAllText(tablePath, RunView.SummaryMarkdown(summaries));
        AnsiConsole.MarkupLine(Markup.Escape($"table: {tablePath}"));
        var figure = RunViews.Training(summaries.Select(s => (s.Optimizer, Path.Combine(settings.Out, s.Name))).ToList(), target: 0.88) with
        {
            Title = $"Fashion-MNIST, small CNN, batch {settings.BatchSize}: SGD, AdamW, KFAC and FOP",
        };
        var (png, html) = figure.Save(settings.Out);
        AnsiConsole.MarkupLine(Markup.Escape($"plots: {png} and {html} (interactive, works offline)"));
        return 0;
    }
}
