using System.ComponentModel;
using Fop.Research.Training;
using Spectre.Console;
using Spectre.Console.Cli;
using Fop.Research.Devices;

namespace Fop.Cli;

/// <summary>`fop gpu-check`: the device checks of issue 13 (agreement with the CPU, one host read per step, end-to-end training), as a table; non-zero exit when one fails.</summary>
internal sealed class GpuCheckCommand : Command<GpuCheckCommand.Settings>
{
    public sealed class Settings : CommandSettings
    {
        [CommandOption("--device <DEVICE>"), Description("cuda (default) or cpu (to try the checks themselves on a machine without a GPU).")]
        public string Device { get; init; } = "cuda";

        [CommandOption("--work <DIR>"), Description("Folder for the training check's stand-in data and run (default: a temporary folder).")]
        public string? Work { get; init; }
    }

    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellation)
    {
        var device = DeviceChoice.Resolve(settings.Device);
        var work = settings.Work ?? Directory.CreateTempSubdirectory("fop-gpu-check-").FullName;
        var results = DeviceCheck.Run(device, work);
        var table = new Table().AddColumns("check", "passed", "measured");
        foreach (var r in results) table.AddRow(Markup.Escape(r.Name), r.Passed ? "[green]yes[/]" : "[red]NO[/]", Markup.Escape(r.Detail));
        AnsiConsole.Write(table);
        foreach (var r in results) Console.WriteLine($"| {r.Name} | {(r.Passed ? "yes" : "NO")} | {r.Detail} |");
        return results.All(r => r.Passed) ? 0 : 1;
    }
}
