using System.ComponentModel;
using Fop.Research.Io;
using Fop.Research.Plots.Figures;
using Fop.Research.Plots.Views;
using Fop.Research.Studies;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Fop.Cli;

/// <summary>`fop curves`: the rate-curve claims (cross-fitted rates, matched rates, Holm over the declared family) and FOP's mechanism against batch, from the curves studies' committed results.</summary>
internal sealed class CurvesCommand : Command<CurvesCommand.Settings>
{
    public sealed class Settings : CommandSettings
    {
        [CommandOption("--study <FILE>"), Description("A curves study whose cells form the claim family (repeatable).")]
        public string[] Studies { get; init; } = ["experiments/studies/fmnist-curves-b8192.json", "experiments/studies/fmnist-curves-b55000.json"];

        [CommandOption("--replication <FILE>"), Description("A curves study reported with raw p-values, outside the family (repeatable).")]
        public string[] Replication { get; init; } = ["experiments/studies/fmnist-curves-cnn.json"];

        [CommandOption("--comparators <FILE>"), Description("A curves study of other optimizers compared with FOP's curve of the claim studies on the same config, as a second Holm family (repeatable).")]
        public string[] Comparators { get; init; } = ["experiments/studies/fmnist-curves-newopt-b8192.json"];

        [CommandOption("--mechanism <FILE>"), Description("The mechanism study (KFAC and FOP at matched rates, noise logged); its runs join the claim studies' in the mechanism table.")]
        public string Mechanism { get; init; } = "experiments/studies/fmnist-curves-mechanism.json";

        [CommandOption("--bench <CONFIG=FILE>"), Description("Interleaved bench JSON for a base config's cost per step (repeatable, also per config: the first that timed both optimizers of a ratio is used); pairs without one use their runs' median ms/step, marked in-run.")]
        public string[] Bench { get; init; } = ["mlp-b8192=experiments/results/bench/fair-mlp-b8192.json", "mlp-b55000=experiments/results/bench/fair-mlp-b55000.json",
            $"mlp-b8192={NewOptBench}"];

        /// <summary>FOP beside Shampoo, SOAP and Muon at the MLP's batch 8192; optional among the defaults until it is measured.</summary>
        internal const string NewOptBench = "experiments/results/bench/fair-mlp-b8192-newopt.json";

        [CommandOption("--results <DIR>"), Description("Root of the studies' results.")]
        public string Results { get; init; } = Path.Combine("experiments", "results");

        [CommandOption("--out <FILE>"), Description("Markdown file to write.")]
        public string Out { get; init; } = Path.Combine("experiments", "results", "fmnist-curves-claims.md");
    }

    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellation)
    {
        if (!Directory.Exists(settings.Results)) throw new DirectoryNotFoundException($"--results {settings.Results}: no such folder.");
        var parsed = settings.Bench.Select(b => b.Split('=', 2) is [var config, var file] && config.Length > 0 && file.Length > 0 ? (config, file)
                : throw new ArgumentException($"--bench {b}: expected CONFIG=FILE (e.g. mlp-b8192=experiments/results/bench/fair-mlp-b8192.json).")).ToList();
        foreach (var (config, file) in parsed.Where(b => b.file == Settings.NewOptBench && !File.Exists(b.file)))
            AnsiConsole.MarkupLine(Markup.Escape($"note: no {file} yet (fop bench of FOP, Shampoo, SOAP and Muon on {config}): their time cells use the runs' own medians, marked in-run."));
        var bench = parsed.Where(b => b.file != Settings.NewOptBench || File.Exists(b.file)).GroupBy(b => b.config)
            .ToDictionary(g => g.Key, g => (IReadOnlyList<BenchCosts>)g.Select(b => BenchCosts.Load(b.file)).ToList());
        var costs = new StepCosts(bench);
        // Everything is read and checked before anything is written.
        CurveStudy Load(string file)
        {
            var study = StudyFile.Load(file);
            return CurveStudy.Load(study, Path.Combine(settings.Results, study.Name), costs);
        }
        var claims = settings.Studies.Select(Load).ToList();
        var replication = settings.Replication.Select(Load).ToList();
        var comparators = settings.Comparators.Select(Load).ToList();
        var mechanism = File.Exists(settings.Mechanism) ? Load(settings.Mechanism) : null;
        if (claims.Concat(replication).All(s => s.Runs.Count == 0))
            throw new FileNotFoundException($"none of the curves studies has results under {settings.Results} yet: run experiments/scripts/curves-study.sh first.");

        var targets = claims.SelectMany(s => s.Targets).Distinct().Order().ToList();
        // The mechanism table reads the claim targets at every run, so runs of studies with other targets are read again at them.
        var rows = MechanismRow.Of(Reread(claims, mechanism, targets, settings.Results), targets);
        var provenance = $"Last written at commit {RunView.Commit()}; runs' steps are exact, cost per step from {string.Join(", ", bench.Values.SelectMany(b => b).Select(b => Path.GetFileName(b.File)))} (others: in-run medians).";
        var text = CurveClaimsReport.Markdown(claims, replication, comparators, rows, provenance);

        foreach (var s in claims.Concat(replication).Concat(comparators).Where(s => s.Runs.Count > 0))
            foreach (var config in s.Configs)
                PngRenderer.Save(RateCurveViews.Curves(s, config), Path.Combine(settings.Results, s.Study.Name, $"rate-curves-{config}.png"));
        if (rows.Count > 0 && mechanism is not null)
            PngRenderer.Save(RateCurveViews.Mechanism(rows), Path.Combine(settings.Results, mechanism.Study.Name, "mechanism-vs-batch.png"));
        Console.Out.WriteLine(text);
        AtomicFile.WriteAllText(settings.Out, text);
        AnsiConsole.MarkupLine(Markup.Escape($"written: {settings.Out}"));
        return 0;
    }

    /// <summary>The runs of the claim studies and the mechanism study, read at one set of targets.</summary>
    static IReadOnlyList<CurveRun> Reread(IReadOnlyList<CurveStudy> claims, CurveStudy? mechanism, IReadOnlyList<double> targets, string results) =>
        claims.Append(mechanism).OfType<CurveStudy>().DistinctBy(s => s.Study.Name)
            .SelectMany(s => RateCurves.Read(s.Study, StudyResults.Load(Path.Combine(results, s.Study.Name)), targets)).ToList();
}
