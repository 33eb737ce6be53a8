using System.ComponentModel;
using Fop.Research.Io;
using Fop.Research.Plots.Figures;
using Fop.Research.Plots.Views;
using Fop.Research.Studies;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Fop.Cli;

/// <summary>`fop curves`: the rate-curve claims (cross-fitted rates, matched rates, Holm over each declared family) and FOP's mechanism against batch, from the curves studies' committed results.</summary>
internal sealed class CurvesCommand : Command<CurvesCommand.Settings>
{
    public sealed class Settings : CommandSettings
    {
        [CommandOption("--study <FILE>"), Description("A curves study whose cells form the claim family (repeatable).")]
        public string[] Studies { get; init; } = [.. CurveEvidence.DefaultClaims];

        [CommandOption("--replication <FILE>"), Description("A curves study reported with raw p-values, outside the family (repeatable).")]
        public string[] Replication { get; init; } = [.. CurveEvidence.DefaultReplication];

        [CommandOption("--comparators <FILE>"), Description("A curves study of other optimizers compared with FOP's curve of the claim studies on the same config, as a second Holm family (repeatable).")]
        public string[] Comparators { get; init; } = [.. CurveEvidence.DefaultComparators];

        [CommandOption("--mechanism <FILE>"), Description("The mechanism study (KFAC and FOP at matched rates, noise logged); its runs join the claim studies' in the mechanism table.")]
        public string Mechanism { get; init; } = CurveEvidence.DefaultMechanism;

        [CommandOption("--bench <CONFIG=FILE>"), Description("Interleaved bench JSON for a base config's cost per step (repeatable, also per config: the first that timed both optimizers of a ratio is used); pairs without one use their runs' median ms/step, marked in-run.")]
        public string[] Bench { get; init; } = [.. CurveEvidence.DefaultBench];

        [CommandOption("--results <DIR>"), Description("Root of the studies' results.")]
        public string Results { get; init; } = Path.Combine("experiments", "results");

        [CommandOption("--out <FILE>"), Description("Markdown file to write.")]
        public string Out { get; init; } = Path.Combine("experiments", "results", "fmnist-curves-claims.md");
    }

    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellation)
    {
        // Everything is read and decided before anything is written.
        var e = CurveEvidence.Load("", settings.Results, settings.Studies, settings.Replication, settings.Comparators, settings.Mechanism, settings.Bench,
            note => AnsiConsole.MarkupLine(Markup.Escape("note: " + note)));
        var benches = e.Claims.Concat(e.Replication).Concat(e.Comparators).SelectMany(s => s.Costs.Bench.Values).SelectMany(b => b).Select(b => Path.GetFileName(b.File)).Distinct();
        var provenance = $"Last written at commit {RunView.Commit()}; runs' steps are exact, cost per step from {string.Join(", ", benches)} (others: in-run medians).";
        var text = CurveClaimsReport.Markdown(e, provenance);

        foreach (var s in e.Claims.Concat(e.Replication).Concat(e.Comparators).Where(s => s.Runs.Count > 0))
            foreach (var config in s.Configs)
                PngRenderer.Save(RateCurveViews.Curves(s, config), Path.Combine(settings.Results, s.Study.Name, $"rate-curves-{config}.png"));
        if (e.Mechanism.Count > 0 && e.MechanismStudy is { } mechanism)
            PngRenderer.Save(RateCurveViews.Mechanism(e.Mechanism), Path.Combine(settings.Results, mechanism.Study.Name, "mechanism-vs-batch.png"));
        Console.Out.WriteLine(text);
        AtomicFile.WriteAllText(settings.Out, text);
        AnsiConsole.MarkupLine(Markup.Escape($"written: {settings.Out}"));
        return 0;
    }
}
