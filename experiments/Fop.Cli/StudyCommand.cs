using System.Diagnostics;
using Fop.Research.Plots.Views;
using Fop.Research.Studies;
using Spectre.Console;
using TorchSharp;

namespace Fop.Cli;

/// <summary>The named studies `fop sweep --study` runs: their runs under runs/studies/, their results under experiments/results/.</summary>
internal static class StudyCommand
{
    public static IReadOnlyList<string> Names { get; } = ["fashion-mnist-scaling", "fashion-mnist-long-tailed"];

    public static int Run(string study, IReadOnlyList<string> common, string runsRoot, string resultsRoot, string command)
    {
        var clock = Stopwatch.StartNew();
        var machine = RunView.Machine();
        var results = Path.Combine(resultsRoot, study);
        StudyRunner? self = null;
        int reported = -1;
        // Reports are rewritten after each run that trained (reading all run folders each time); read-back runs change nothing.
        bool Changed() { if (self!.TrainedCount == reported) return false; reported = self.TrainedCount; return true; }
        using var runner = self = new StudyRunner(Path.Combine(runsRoot, study), (config, dir) => RunView.Run(config, self!.Data(config), dir, resume: true))
        {
            OnMessage = m => AnsiConsole.MarkupLine(Markup.Escape(m)),
        };
        switch (study)
        {
            case "fashion-mnist-scaling":
            {
                var options = new ScalingStudyOptions();
                options = options with { Common = options.Common.Concat(common).ToList() };
                void Write(ScalingResults r)
                {
                    if (!Changed()) return;
                    StudyReport.WriteResults(results, r.Runs);
                    StudyReport.WriteCurves(results, runner, r.Runs.Where(x => x.Stage != "tune"));
                    Fop.Research.Io.AtomicFile.WriteAllText(Path.Combine(results, "table.md"), StudyReport.ScalingTable(r, command, machine, clock.Elapsed));
                    if (double.IsNaN(r.Target)) return;
                    StudyViews.AccuracyOverTime(results, r.Target).Save(results);
                    StudyViews.TimeToTarget(results, r.Target).Save(results);
                }
                var final = ScalingStudy.Run(runner, options, Write);
                reported = -1;
                Write(final);
                break;
            }
            case "fashion-mnist-long-tailed":
            {
                var options = new LongTailedStudyOptions();
                options = options with { Common = options.Common.Concat(common).ToList() };
                void Write(IReadOnlyList<RunOutcome> r)
                {
                    if (!Changed()) return;
                    StudyReport.WriteResults(results, r);
                    StudyReport.WriteCurves(results, runner, r);
                    Fop.Research.Io.AtomicFile.WriteAllText(Path.Combine(results, "table.md"), LongTailedStudy.Table(options, r, command, machine, clock.Elapsed));
                    StudyViews.AccuracyOverTime(results).Save(results);
                }
                var final = LongTailedStudy.Run(runner, options, Write);
                reported = -1;
                Write(final);
                break;
            }
            default:
                throw new ArgumentException($"--study '{study}' is not one of {string.Join(", ", Names)}.");
        }
        AnsiConsole.Write(RunView.SummaryTable(runner.Summaries));
        AnsiConsole.MarkupLine(Markup.Escape($"{study}: results in {results} ({clock.Elapsed:hh\\:mm\\:ss} wall)"));
        return 0;
    }
}
