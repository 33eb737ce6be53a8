using System.ComponentModel;
using System.Globalization;
using System.Text;
using Fop.Research.Distributed;
using Fop.Research.Models;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Fop.Cli;

/// <summary>`fop comm-estimate`: bytes per step per rank of data-parallel SGD/AdamW/KFAC/FOP for a model, by layer and in total, for several rank counts.</summary>
internal sealed class CommEstimateCommand : Command<CommEstimateCommand.Settings>
{
    public sealed class Settings : CommandSettings
    {
        [CommandOption("--model <NAME>"), Description("mlp, smallcnn, smallcnn-bn, resnet18, resnet32, resnet50 or vit.")]
        public string Model { get; init; } = "resnet18";

        [CommandOption("--ranks <LIST>"), Description("Rank counts, comma-separated.")]
        public string Ranks { get; init; } = "2,4,8,64,512";

        [CommandOption("--interval <K>"), Description("Curvature interval of KFAC/FOP (factor reductions are amortised over it).")]
        public int Interval { get; init; } = 10;

        [CommandOption("--gbps <G>"), Description("Link bandwidth per rank in Gbit/s, for the time column.")]
        public double Gbps { get; init; } = 100;

        [CommandOption("--markdown <FILE>"), Description("Also write the tables as markdown.")]
        public string? Markdown { get; init; }
    }

    public override int Execute(CommandContext context, Settings s, CancellationToken cancellation)
    {
        if (s.Interval < 1 || !(s.Gbps > 0)) throw new ArgumentException("--interval must be >= 1 and --gbps > 0.");
        var ranks = s.Ranks.Split(',', StringSplitOptions.TrimEntries).Select(r => int.TryParse(r, NumberStyles.None, CultureInfo.InvariantCulture, out int n) ? n
            : throw new ArgumentException($"--ranks {s.Ranks}: '{r}' is not a whole number of ranks.")).ToList();
        if (ranks.Count == 0 || ranks.Any(r => r < 2)) throw new ArgumentException("--ranks: rank counts of at least 2.");
        var kind = ModelCatalog.Parse(s.Model);
        var (shape, classes) = ModelCatalog.NativeInput(kind);
        var model = ModelCatalog.Create(kind, shape, classes);
        long parameters = model.parameters().Sum(p => p.numel());
        var layers = CommunicationCost.Layers(model, ranks.Max());
        var ci = CultureInfo.InvariantCulture;
        var md = new StringBuilder();
        md.AppendLine($"Data-parallel traffic of {s.Model} ({parameters:N0} trainable parameters, float32), curvature every {s.Interval} steps; bytes one rank sends per step with bandwidth-optimal collectives " +
                      "(ring all-reduce 2S(N-1)/N, reduce and broadcast S(N-1)/N); time at " + s.Gbps.ToString("g4", ci) + " Gbit/s per rank, latency ignored. From `./fop comm-estimate`.");
        md.AppendLine();
        md.AppendLine("| ranks | optimizer | gradients (MB) | factors (MB, amortised) | updates (MB) | total (MB/step) | time (ms/step) |");
        md.AppendLine("|---|---|---|---|---|---|---|");
        foreach (int n in ranks)
            foreach (var opt in new[] { "sgd", "kfac", "fop" })
            {
                var t = CommunicationCost.PerStep(opt, layers, parameters, n, s.Interval);
                md.AppendLine(string.Create(ci, $"| {n} | {opt} | {t.Gradients / 1e6:F1} | {t.Factors / 1e6:F1} | {t.Updates / 1e6:F1} | {t.Total / 1e6:F1} | {t.Total * 8 / (s.Gbps * 1e9) * 1000:F2} |"));
            }
        md.AppendLine();
        md.AppendLine($"Per layer (owner among {ranks.Max()} ranks, cost-balanced by the larger factor's n^3): elements each collective carries for it.");
        md.AppendLine();
        md.AppendLine("| layer | parameters (gradient all-reduce, every step) | A + G (reduce to owner, curvature steps) | update (broadcast from owner, every step) | owner |");
        md.AppendLine("|---|---|---|---|---|");
        foreach (var l in layers) md.AppendLine(string.Create(ci, $"| {l.Layer} | {l.Parameters:N0} | {l.FactorElements:N0} | {l.UpdateElements:N0} | {l.Owner} |"));
        Console.Out.WriteLine(md.ToString());
        if (s.Markdown is not null) Fop.Research.Io.AtomicFile.WriteAllText(s.Markdown, md.ToString());
        return 0;
    }
}
