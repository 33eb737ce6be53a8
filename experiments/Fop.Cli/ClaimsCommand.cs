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
        if (!Directory.Exists(settings.Results)) throw new DirectoryNotFoundException($"--results {settings.Results}: no such folder.");
        // A study whose results are missing is an error, not an empty study: a mistyped --results must not overwrite a report with nothing.
        StudyEvidence Evidence(string file, bool required)
        {
            var study = StudyFile.Load(file);
            var dir = Path.Combine(settings.Results, study.Name);
            var csv = Path.Combine(dir, "results.csv");
            if (required && !File.Exists(csv))
                throw new FileNotFoundException($"{csv}: missing, so study '{study.Name}' has no results there. Check --results, or run `./fop study {file}` first.", csv);
            return new StudyEvidence(study, StudyResults.Load(dir));
        }
        var provenance = $"Last written at commit {RunView.Commit()}; the runs' seconds are from the machines in each study's invocations.md.";
        var text = FairClaims.Markdown(Evidence(settings.Scaling, true), Evidence(settings.Damping, true), Evidence(settings.LongTailed, true), provenance,
            settings.PostHoc.Select(f => Evidence(f, false)).ToList());
        // Markdown goes out as it is: the console profile would wrap its long table rows.
        Console.Out.WriteLine(text);
        // The provenance line names the commit: a report whose verdicts did not change is left alone rather than rewritten for it.
        if (File.Exists(settings.Out) && WithoutProvenance(File.ReadAllText(settings.Out), provenance) == WithoutProvenance(text, provenance))
            AnsiConsole.MarkupLine(Markup.Escape($"unchanged: {settings.Out} (only its commit line would differ)"));
        else
        {
            AtomicFile.WriteAllText(settings.Out, text);
            AnsiConsole.MarkupLine(Markup.Escape($"written: {settings.Out}"));
        }
        return 0;
    }

    /// <summary>The report's text without its provenance line (the line that starts like <paramref name="provenance"/>).</summary>
    static string WithoutProvenance(string text, string provenance)
    {
        var start = provenance[..provenance.IndexOf(" at commit", StringComparison.Ordinal)];
        return string.Join('\n', text.ReplaceLineEndings("\n").Split('\n').Where(l => !l.Contains(start, StringComparison.Ordinal)));
    }
}
