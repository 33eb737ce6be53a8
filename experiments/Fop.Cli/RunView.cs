using System.Diagnostics;
using Fop.Research.Training;
using Spectre.Console;

namespace Fop.Cli;

/// <summary>Runs a trainer with a live progress bar on a terminal, or a line per epoch elsewhere.</summary>
internal static class RunView
{
    /// <summary>The machine line results record: cores, torch threads, the device when given, the operating system.</summary>
    public static string Machine(TorchSharp.torch.Device? device = null) =>
        $"{Environment.ProcessorCount} cores, {TorchSharp.torch.get_num_threads()} torch threads, {(device is null ? "" : $"{device.type}, ")}{System.Runtime.InteropServices.RuntimeInformation.OSDescription}";

    /// <summary>Longest quiet spell, in seconds, of a run's output without a terminal (a line within an epoch after it).</summary>
    public const double ProgressSeconds = 30;

    /// <summary>Trains <paramref name="config"/> in <paramref name="runDir"/> with progress on the console.</summary>
    public static RunSummary Run(RunConfig config, RunData data, string runDir, bool resume)
    {
        if (!AnsiConsole.Profile.Capabilities.Interactive || Job.Parallel is not null)
        {
            int lastEpoch = 0;
            var sinceLine = Stopwatch.StartNew();
            // In a job every rank trains, rank 0 reports (the ranks' messages are the same). Without a terminal there is no
            // bar: a line at the end of every epoch, and one at least every ProgressSeconds within a long epoch.
            var plain = new Trainer(config, data)
            {
                Parallel = Job.Parallel,
                OnMessage = m => { if (Job.Speaks) Console.WriteLine($"  {m}"); },
                OnProgress = p =>
                {
                    if (!Job.Speaks) return;
                    bool epochDone = p.Step == p.StepsPerEpoch && p.Epoch != lastEpoch;
                    if (!epochDone && sinceLine.Elapsed.TotalSeconds < ProgressSeconds) return;
                    sinceLine.Restart();
                    if (epochDone)
                    {
                        lastEpoch = p.Epoch;
                        Console.WriteLine($"  [{config.Name}] epoch {p.Epoch}/{p.Epochs} step {p.GlobalStep} loss {p.Loss:F4} train acc {p.Accuracy:P2} elapsed {p.Elapsed:hh\\:mm\\:ss}");
                    }
                    else
                        Console.WriteLine($"  [{config.Name}] epoch {p.Epoch}/{p.Epochs} step {p.Step}/{p.StepsPerEpoch} loss {p.Loss:F4} elapsed {p.Elapsed:hh\\:mm\\:ss}, about {p.Remaining:hh\\:mm\\:ss} left");
                },
            };
            return plain.Run(runDir, resume);
        }
        RunSummary? summary = null;
        AnsiConsole.Progress()
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new RemainingTimeColumn())
            .Start(ctx =>
            {
                var task = ctx.AddTask(Markup.Escape(config.Name), maxValue: 1);
                var trainer = new Trainer(config, data)
                {
                    OnMessage = m => AnsiConsole.MarkupLine($"[yellow]{Markup.Escape(m)}[/]"),
                    OnProgress = p =>
                    {
                        double total = (double)p.Epochs * p.StepsPerEpoch;
                        task.Value = Math.Min(1, p.GlobalStep / total);
                        var test = p.LastTestAccuracy is double t ? $" test {t:P2}" : "";
                        task.Description = Markup.Escape($"{config.Name} epoch {p.Epoch}/{p.Epochs} step {p.Step}/{p.StepsPerEpoch} loss {p.Loss:F4} acc {p.Accuracy:P1}{test} ETA {p.Remaining:hh\\:mm\\:ss}");
                    },
                };
                summary = trainer.Run(runDir, resume);
                task.Value = 1;
            });
        return summary!;
    }

    /// <summary>The summary table's columns and, per run, its cells (shared by the console table and the markdown file).</summary>
    static (string[] Header, List<string[]> Rows) SummaryCells(IEnumerable<RunSummary> runs)
    {
        string[] header = ["run", "optimizer", "batch", "lr", "epochs", "best test acc", "final test acc", "ms/step", "train s", "time to target (epochs / s)"];
        var ci = System.Globalization.CultureInfo.InvariantCulture;
        var rows = runs.Select(r => new[] { r.Name, r.Optimizer, r.BatchSize.ToString(ci), r.Lr.ToString("g4", ci), r.EpochsRun.ToString(ci),
            double.IsNaN(r.BestTestAccuracy) ? "-" : r.BestTestAccuracy.ToString("P2", ci), double.IsNaN(r.FinalTestAccuracy) ? "-" : r.FinalTestAccuracy.ToString("P2", ci),
            r.MedianStepMs.ToString("F1", ci), r.TrainSeconds.ToString("F1", ci), r.TimeToTarget is { } t ? $"{t.Epoch} / {t.TrainSeconds.ToString("F1", ci)}" : "-" }).ToList();
        return (header, rows);
    }

    /// <summary>The summary table as markdown (what quickstart saves beside its plot).</summary>
    public static string SummaryMarkdown(IEnumerable<RunSummary> runs)
    {
        var (header, rows) = SummaryCells(runs);
        var sb = new System.Text.StringBuilder();
        sb.AppendLine("| " + string.Join(" | ", header) + " |");
        sb.AppendLine("|" + string.Concat(header.Select(_ => "---|")));
        foreach (var row in rows) sb.AppendLine("| " + string.Join(" | ", row) + " |");
        return sb.ToString();
    }

    /// <summary>The summary table for the console.</summary>
    public static Table SummaryTable(IEnumerable<RunSummary> runs)
    {
        var (header, rows) = SummaryCells(runs);
        var table = new Table().AddColumns(header);
        foreach (var row in rows) table.AddRow(row.Select(Markup.Escape).ToArray());
        return table;
    }

    /// <summary>The checked-out commit (short), marked dirty when tracked files outside experiments/results differ from it; "unknown" outside a git checkout.</summary>
    public static string Commit()
    {
        string Git(string args)
        {
            try
            {
                using var p = Process.Start(new ProcessStartInfo("git", args) { RedirectStandardOutput = true, RedirectStandardError = true })!;
                var text = p.StandardOutput.ReadToEnd().Trim();
                p.WaitForExit();
                return p.ExitCode == 0 ? text : "";
            }
            catch (System.ComponentModel.Win32Exception) { return ""; }
        }
        var head = Git("rev-parse --short HEAD");
        if (head.Length == 0) return "unknown";
        // Results are rewritten by the runs themselves (a study updates its committed tables as it goes): only code and
        // configs make a checkout "dirty" for provenance.
        return Git("status --porcelain --untracked-files=no -- . :!experiments/results").Length > 0 ? head + " (with uncommitted changes)" : head;
    }
}
