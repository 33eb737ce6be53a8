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

    public static RunSummary Run(RunConfig config, RunData data, string runDir, bool resume)
    {
        if (!AnsiConsole.Profile.Capabilities.Interactive || Job.Parallel is not null)
        {
            int lastEpoch = 0;
            // In a job every rank trains, rank 0 reports (the ranks' messages are the same).
            var plain = new Trainer(config, data)
            {
                Parallel = Job.Parallel,
                OnMessage = m => { if (Job.Speaks) Console.WriteLine($"  {m}"); },
                OnProgress = p =>
                {
                    if (!Job.Speaks) return;
                    if (p.Step != p.StepsPerEpoch || p.Epoch == lastEpoch) return;
                    lastEpoch = p.Epoch;
                    Console.WriteLine($"  [{config.Name}] epoch {p.Epoch}/{p.Epochs} step {p.GlobalStep} loss {p.Loss:F4} train acc {p.Accuracy:P2} elapsed {p.Elapsed:mm\\:ss}");
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

    public static Table SummaryTable(IEnumerable<RunSummary> runs)
    {
        var table = new Table().AddColumns("run", "optimizer", "batch", "lr", "epochs", "best test acc", "final test acc", "ms/step", "train s", "time to target (epochs / s)");
        foreach (var r in runs)
            table.AddRow(Markup.Escape(r.Name), r.Optimizer, r.BatchSize.ToString(), r.Lr.ToString("g4"), r.EpochsRun.ToString(), r.BestTestAccuracy.ToString("P2"),
                r.FinalTestAccuracy.ToString("P2"), r.MedianStepMs.ToString("F1"), r.TrainSeconds.ToString("F1"),
                r.TimeToTarget is { } t ? $"{t.Epoch} / {t.TrainSeconds:F1}" : "-");
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
