using System.ComponentModel;
using Fop.Research.Studies;
using Fop.Research.Training;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Fop.Cli;

internal sealed class SweepCommand : Command<SweepCommand.Settings>
{
    public sealed class Settings : RunSettings
    {
        [CommandOption("--grid <KEY=V1,V2>"), Description("A key and the values to sweep; the sweep runs the cross product of all --grid options. Repeatable.")]
        public string[] Grid { get; init; } = [];

        [CommandOption("--study <NAME>"), Description("Run a named study instead of a grid: fashion-mnist-scaling or fashion-mnist-long-tailed (runs under --out, default runs/studies).")]
        public string? Study { get; init; }

        [CommandOption("--results <DIR>"), Description("Where a study writes results.csv, table.md and figures (default experiments/results).")]
        public string Results { get; init; } = "experiments/results";
    }

    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellation)
    {
        if (settings.Study is { } study)
        {
            if (settings.Config != null || settings.Grid.Length > 0) throw new ArgumentException("--study runs a fixed plan: it takes --set/--device/--data-dir/--out/--results, not --config or --grid.");
            var common = settings.Set.ToList();
            if (settings.Device != null) common.Add($"device={settings.Device}");
            if (settings.DataDir != null) common.Add($"data_dir={settings.DataDir}");
            var command = "./fop sweep --study " + study + string.Concat(settings.Set.Select(s => " --set " + s));
            return StudyCommand.Run(study, common, settings.Out ?? Path.Combine("runs", "studies"), settings.Results, command);
        }
        var base_ = settings.Load();
        var axes = settings.Grid.Select(GridAxis.Parse).ToList();
        var summaries = GridSweep.Run(base_, axes, (config, data, dir) => RunView.Run(config, data, dir, resume: true), m => AnsiConsole.MarkupLine(Markup.Escape(m)));
        AnsiConsole.Write(RunView.SummaryTable(summaries));
        return 0;
    }
}
