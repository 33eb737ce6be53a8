using System.ComponentModel;
using System.Text.Json;
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
        var axes = settings.Grid.Select(g =>
        {
            int eq = g.IndexOf('=');
            if (eq <= 0) throw new ArgumentException($"--grid '{g}': expected key=v1,v2,...");
            return (Key: g[..eq], Values: g[(eq + 1)..].Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
        }).ToList();
        IEnumerable<List<(string Key, string Value)>> points = [[]];
        foreach (var axis in axes) points = points.SelectMany(p => axis.Values.Select(v => p.Append((axis.Key, v)).ToList())).ToList();
        var sweepDir = Path.Combine(base_.OutputDir, base_.Name);
        var summaries = new List<RunSummary>();
        foreach (var point in points)
        {
            var name = point.Count == 0 ? "base" : string.Join("_", point.Select(p => $"{p.Key.Split('.').Last()}-{p.Value}"));
            var config = ConfigFile.Override(base_, point.Select(p => $"{p.Key}={p.Value}").Append($"name={name}")).Validate();
            var runDir = Path.Combine(sweepDir, name);
            var summaryPath = Path.Combine(runDir, "summary.json");
            if (File.Exists(summaryPath))
            {
                AnsiConsole.MarkupLine(Markup.Escape($"{name}: complete, skipped"));
                summaries.Add(JsonSerializer.Deserialize<RunSummary>(File.ReadAllText(summaryPath), ConfigFile.Json)!);
                continue;
            }
            using var data = RunData.Load(config);
            summaries.Add(RunView.Run(config, data, runDir, resume: true));
        }
        AnsiConsole.Write(RunView.SummaryTable(summaries));
        return 0;
    }
}
