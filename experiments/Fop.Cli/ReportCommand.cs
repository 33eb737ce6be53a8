using System.ComponentModel;
using System.Text;
using Fop.Research.Plots.Figures;
using Fop.Research.Plots.Views;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Fop.Cli;

/// <summary>`fop report FOLDER`: every figure that applies to a study's results folder (`fop study`), a run folder or a folder of runs, as PNG and offline HTML, with a markdown page.</summary>
internal sealed class ReportCommand : Command<ReportCommand.Settings>
{
    public sealed class Settings : CommandSettings
    {
        [CommandArgument(0, "<FOLDER>"), Description("A study's results folder (results.csv or tuning.csv with runs/, as `fop study` writes it), a run folder (metrics.csv) or a folder of run folders.")]
        public string Folder { get; init; } = "";

        [CommandOption("--target <ACCURACY>"), Description("Target accuracy (0-1) for dotted lines in run figures (default: the runs' configs).")]
        public double? Target { get; init; }

        [CommandOption("--out <DIR>"), Description("Where to write the figures (default: the folder itself).")]
        public string? Out { get; init; }

        [CommandOption("--batches <LIST>"), Description("Batch sizes drawn against the gradient noise scale (default: the scaling study's 512,2048,8192,30000,60000).")]
        public string Batches { get; init; } = "512,2048,8192,30000,60000";
    }

    public override int Execute(CommandContext context, Settings s, CancellationToken cancellation)
    {
        if (!Directory.Exists(s.Folder)) throw new DirectoryNotFoundException($"{s.Folder}: folder not found.");
        if (s.Target is double t && !(t > 0 && t <= 1)) throw new ArgumentException($"--target {t}: expected an accuracy in (0, 1].");
        var outDir = s.Out ?? s.Folder;
        var figures = new List<Figure>();
        if (File.Exists(Path.Combine(s.Folder, "tuning.csv")) || (File.Exists(Path.Combine(s.Folder, "results.csv")) && Directory.Exists(Path.Combine(s.Folder, "runs"))))
        {
            // A study file's results (./fop study): the same figures the study writes after every run, from its committed records.
            figures.AddRange(VariantStudyViews.All(s.Folder));
        }
        else
        {
            var runs = File.Exists(Path.Combine(s.Folder, "metrics.csv"))
                ? [(Path.GetFileName(Path.TrimEndingDirectorySeparator(s.Folder)), s.Folder)]
                : Directory.GetDirectories(s.Folder).Where(d => File.Exists(Path.Combine(d, "metrics.csv"))).Order(StringComparer.Ordinal)
                    .Select(d => (Path.GetFileName(d), d)).ToList();
            if (runs.Count == 0) throw new ArgumentException($"{s.Folder}: no study results (results.csv or tuning.csv with runs/) and no run folders (metrics.csv) to report on.");
            runs = ShortLabels(runs);
            var target = s.Target ?? runs.Select(r => TargetOf(r.Item2)).FirstOrDefault(v => v is not null);
            figures.Add(RunViews.Training(runs, target));
            var batches = s.Batches.Split(',', StringSplitOptions.RemoveEmptyEntries).Select(b => int.TryParse(b, out var v) && v > 0 ? v : throw new ArgumentException($"--batches: '{b}' is not a batch size.")).ToList();
            if (RunViews.Noise(runs, batches) is { } noise) figures.Add(noise);
            foreach (var (label, dir) in runs)
            {
                if (NoiseViews.ByLayer(dir, runs.Count == 1 ? "gradient-noise-by-layer" : $"gradient-noise-by-layer-{label}") is { } byLayer) figures.Add(byLayer);
                if (RunViews.FopInternals(dir, runs.Count == 1 ? "fop-internals" : $"fop-internals-{label}") is { } internals) figures.Add(internals);
                var checkpoint = Path.Combine(dir, "checkpoint.bin");
                double? damping = TryConfig(dir)?.Kfac.Damping.Start;
                if (File.Exists(checkpoint) && CurvatureViews.FactorSpectra(checkpoint, damping, runs.Count == 1 ? "factor-spectra" : $"factor-spectra-{label}") is { } spectra) figures.Add(spectra);
            }
        }
        var md = new StringBuilder($"# Report: {s.Folder}\n\nMade by `./fop report {s.Folder}`{(s.Target is null ? "" : $" --target {s.Target}")}. Each figure is a PNG and an interactive HTML page that works offline.\n\n");
        foreach (var f in figures)
        {
            var (png, html) = f.Save(outDir);
            AnsiConsole.MarkupLine(Markup.Escape($"wrote {png} and {Path.GetFileName(html)}"));
            md.Append($"## {f.Title}\n\n![{f.Name}]({Path.GetFileName(png)})\n\n{f.Caption}\n\n");
        }
        Fop.Research.Io.AtomicFile.WriteAllText(Path.Combine(outDir, "report.md"), md.ToString());
        return ExitCodes.Done;
    }

    /// <summary>Run names without the dash-separated words they all share (fmnist-smallcnn-sgd-b4096 -> sgd), for legends that fit.</summary>
    static List<(string, string)> ShortLabels(List<(string Label, string Dir)> runs)
    {
        if (runs.Count < 2) return runs;
        var words = runs.Select(r => r.Label.Split('-')).ToList();
        var common = words[0].Where(w => words.All(x => x.Contains(w))).ToHashSet();
        return runs.Select((r, i) => (string.Join("-", words[i].Where(w => !common.Contains(w))) is { Length: > 0 } l ? l : r.Label, r.Dir)).ToList();
    }

    static double? TargetOf(string runDir) => TryConfig(runDir)?.TargetAccuracy;

    static Fop.Research.Training.RunConfig? TryConfig(string runDir)
    {
        var config = Path.Combine(runDir, "config.json");
        try { return File.Exists(config) ? Fop.Research.Training.ConfigFile.Load(config) : null; }
        catch (ArgumentException) { return null; }
    }
}
