using System.ComponentModel;
using Fop.Research.Studies;
using Fop.Research.Training;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Fop.Cli;

/// <summary>`fop sweep`: the cross product of --grid settings, one run folder each; a restart resumes where it stopped.</summary>
internal sealed class SweepCommand : Command<SweepCommand.Settings>
{
    public sealed class Settings : RunSettings
    {
        [CommandOption("--grid <KEY=V1,V2>"), Description("A key and the values to sweep; the sweep runs the cross product of all --grid options. Repeatable.")]
        public string[] Grid { get; init; } = [];
    }

    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellation)
    {
        var base_ = settings.Load();
        var axes = settings.Grid.Select(GridAxis.Parse).ToList();
        var summaries = GridSweep.Run(base_, axes, (config, data, dir) => RunView.Run(config, data, dir, resume: true), m => AnsiConsole.MarkupLine(Markup.Escape(m)));
        AnsiConsole.Write(RunView.SummaryTable(summaries));
        return 0;
    }
}
