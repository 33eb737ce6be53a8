using System.ComponentModel;
using System.Diagnostics;
using Fop.Research.Plots.Views;
using Fop.Research.Studies;
using Spectre.Console;
using Spectre.Console.Cli;
using TorchSharp;

namespace Fop.Cli;

/// <summary>`fop study FILE`: runs a study declared in a file under experiments/studies/ and writes its results.</summary>
internal sealed class StudyFileCommand : Command<StudyFileCommand.Settings>
{
    public sealed class Settings : CommandSettings
    {
        [CommandArgument(0, "<FILE>"), Description("Study file (experiments/studies/*.json): base configs, variants, seeds, reference variant, targets.")]
        public string File { get; init; } = "";

        [CommandOption("--set <KEY=VALUE>"), Description("Extra override for every run (after the study's common overrides). Repeatable.")]
        public string[] Set { get; init; } = [];

        [CommandOption("--device <DEVICE>"), Description("cpu, cuda or auto.")]
        public string? Device { get; init; }

        [CommandOption("--data-dir <DIR>"), Description("Folder to look in first for the data set.")]
        public string? DataDir { get; init; }

        [CommandOption("--out <DIR>"), Description("Root of the run folders (default runs/studies); the study's runs go to <DIR>/<name>.")]
        public string Out { get; init; } = Path.Combine("runs", "studies");

        [CommandOption("--results <DIR>"), Description("Root of the results (default experiments/results); written to <DIR>/<name>.")]
        public string Results { get; init; } = Path.Combine("experiments", "results");
    }

    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellation)
    {
        var clock = Stopwatch.StartNew();
        var study = StudyFile.Load(settings.File);
        var extra = settings.Set.ToList();
        if (settings.Device != null) extra.Add($"device={settings.Device}");
        if (settings.DataDir != null) extra.Add($"data_dir={settings.DataDir}");
        study = study with { Common = study.Common.Concat(extra).ToList() };
        var command = "./fop study " + settings.File + string.Concat(extra.Select(s => " --set " + s));
        var machine = RunView.Machine();
        var commit = RunView.Commit();
        var results = Path.Combine(settings.Results, study.Name);
        string Provenance() => $"Study file `{settings.File}`; last written by `{command}` at commit {commit} on {machine}. Every invocation, with its wall time: invocations.md.";
        StudyRunner? self = null;
        using var runner = self = new StudyRunner(Path.Combine(settings.Out, study.Name), (config, dir) => RunView.Run(config, self!.Data(config), dir, resume: true))
        {
            OnMessage = m => AnsiConsole.MarkupLine(Markup.Escape(m)),
            ArchiveDir = Path.Combine(results, "runs"),
            ReuseDirs = study.Reuse.SelectMany(s => new[] { Path.Combine(settings.Out, s), Path.Combine(settings.Results, s, "runs") }).ToList(),
        };
        // Nothing is rewritten until this invocation trains or reuses a run (or finishes): a study refused part-way through
        // reading back its finished runs leaves its results as they were.
        int trained = 0;
        var started = DateTime.UtcNow;
        // Tables, figures and the invocation line are rewritten after every run that trained (and at the end), so an
        // interrupted study's folder is complete as far as it got.
        void Save(IReadOnlyList<Fop.Research.Studies.StudyRun> runs, TunedResults? tuned, bool finished)
        {
            if (!finished && runner.TrainedCount + runner.ReusedCount == trained) return;
            trained = runner.TrainedCount + runner.ReusedCount;
            VariantStudy.Write(results, study, runs, Provenance(), tuned);
            foreach (var figure in VariantStudyViews.All(results)) figure.Save(results);
            VariantStudy.RecordInvocation(results, command, commit, machine, started, clock.Elapsed, runner.TrainedCount, runs.Count + (tuned?.Points.Count ?? 0), finished);
        }
        var studyDir = Path.GetDirectoryName(Path.GetFullPath(settings.File))!;
        int total;
        if (study.Tune is null)
        {
            var runs = VariantStudy.Run(study, studyDir, runner, soFar => Save(soFar, null, finished: false), settings.Results);
            Save(runs, null, finished: true);
            total = runs.Count;
        }
        else
        {
            var tuned = TunedStudy.Run(study, studyDir, runner, soFar => Save(soFar.Runs, soFar, finished: false));
            Save(tuned.Runs, tuned, finished: true);
            total = tuned.Points.Count + tuned.Runs.Count;
        }
        Console.Out.WriteLine(File.ReadAllText(Path.Combine(results, "table.md")));
        AnsiConsole.MarkupLine(Markup.Escape($"results: {results} ({runner.TrainedCount} trained, {runner.ReusedCount} reused, {total - runner.TrainedCount - runner.ReusedCount} read back, {clock.Elapsed:hh\\:mm\\:ss})"));
        return 0;
    }
}
