using System.ComponentModel;
using Fop.Research.Io;
using Fop.Research.Studies;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Fop.Cli;

/// <summary>`fop claims`: the paper's claims checked on the fair study's committed results (experiments/results/fmnist-fair-claims.md).</summary>
internal sealed class ClaimsCommand : Command<ClaimsCommand.Settings>
{
    public sealed class Settings : CommandSettings
    {
        [CommandOption("--scaling <FILE>"), Description("The tuned scaling study (time to target, reaching the target, accuracy).")]
        public string Scaling { get; init; } = "experiments/studies/fmnist-fair-scaling.json";

        [CommandOption("--damping <FILE>"), Description("The damping sweep (KFAC and FOP at several dampings).")]
        public string Damping { get; init; } = "experiments/studies/fmnist-fair-damping.json";

        [CommandOption("--long-tailed <FILE>"), Description("The long-tailed study.")]
        public string LongTailed { get; init; } = "experiments/studies/fmnist-fair-long-tailed.json";

        [CommandOption("--post-hoc <FILE>"), Description("A study declared after the evidence was seen, reported without a verdict (repeatable; skipped while it has no results).")]
        public string[] PostHoc { get; init; } = ["experiments/studies/fmnist-fair-stability.json"];

        [CommandOption("--results <DIR>"), Description("Root of the studies' results.")]
        public string Results { get; init; } = Path.Combine("experiments", "results");

        [CommandOption("--out <FILE>"), Description("Markdown file to write.")]
        public string Out { get; init; } = Path.Combine("experiments", "results", "fmnist-fair-claims.md");
    }

    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellation)
    {
        StudyEvidence Evidence(string file)
        {
            var study = StudyFile.Load(file);
            return new StudyEvidence(study, StudyResults.Load(Path.Combine(settings.Results, study.Name)));
        }
        var provenance = $"Last written at commit {RunView.Commit()}; the runs' seconds are from the machines in each study's invocations.md.";
        var text = FairClaims.Markdown(Evidence(settings.Scaling), Evidence(settings.Damping), Evidence(settings.LongTailed), provenance,
            settings.PostHoc.Select(Evidence).ToList());
        AtomicFile.WriteAllText(settings.Out, text);
        AnsiConsole.WriteLine(text);
        AnsiConsole.MarkupLine(Markup.Escape($"written: {settings.Out}"));
        return 0;
    }
}
