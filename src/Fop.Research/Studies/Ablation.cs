using System.Globalization;
using Fop.Research.Training;

namespace Fop.Research.Studies;

/// <summary>A named variant of a base config: its label and the overrides (<c>key=value</c>, as <c>--set</c> takes them) that make it.</summary>
public sealed record AblationVariant(string Label, IReadOnlyList<string> Overrides);

/// <summary>One run of an ablation: which variant, which seed, its summary and folder.</summary>
public sealed record AblationRun(string Variant, long Seed, RunSummary Summary, string RunDir);

/// <summary>One-switch-at-a-time studies: every variant with every seed, resumable like every study (a finished run is read back).</summary>
public static class Ablation
{
    /// <summary>
    /// FOP's switches, each changed alone from the base config (which should be FOP in the paper configuration):
    /// projection off, beta fixed at 0 and at 1, layer-wise eta off, eta with g1 + g2, the projection with undamped
    /// factors, damping x10 and x0.1, and the KL clip on at 1e-3.
    /// </summary>
    public static IReadOnlyList<AblationVariant> FopSwitches(double damping) =>
    [
        new("paper", []),
        new("projection off", ["fop.projection=false"]),
        new("beta fixed 0", ["fop.beta=fixed", "fop.fixed_beta=0"]),
        new("beta fixed 1", ["fop.beta=fixed", "fop.fixed_beta=1"]),
        new("eta off", ["fop.layer_scale=false"]),
        new("eta with g1+g2", ["fop.eta_reference=sum"]),
        new("undamped projection", ["fop.damped_projection=false"]),
        new($"damping x10", [string.Create(CultureInfo.InvariantCulture, $"kfac.damping={damping * 10:g6}")]),
        new($"damping x0.1", [string.Create(CultureInfo.InvariantCulture, $"kfac.damping={damping / 10:g6}")]),
        new("KL clip 1e-3", ["kfac.kl_clip=0.001"]),
    ];

    /// <summary>
    /// Trains (or reads back) every variant with every seed under <c>output_dir/name</c> of the base config, seeds
    /// interleaved (all variants for seed 0, then seed 1, ...) so an interrupted study already has one seed of everything.
    /// Every variant's config is validated before the first run.
    /// </summary>
    public static IReadOnlyList<AblationRun> Run(RunConfig baseConfig, IReadOnlyList<AblationVariant> variants, IReadOnlyList<long> seeds, Action<string>? onMessage = null)
    {
        if (variants.Count == 0 || seeds.Count == 0) throw new ArgumentException("an ablation needs at least one variant and one seed.");
        if (variants.Select(v => v.Label).Distinct().Count() != variants.Count) throw new ArgumentException("variant labels must be unique.");
        var planned = seeds.SelectMany(seed => variants.Select(v => (v, seed, Config: ConfigFile.Override(baseConfig, v.Overrides.Concat(
            [$"seed={seed}", $"name={Slug(v.Label)}-s{seed}"])).Validate()))).ToList();
        using var runner = new StudyRunner(Path.Combine(baseConfig.OutputDir, baseConfig.Name)) { OnMessage = onMessage };
        return planned.Select(p => new AblationRun(p.v.Label, p.seed, runner.Run(p.Config), runner.RunDir(p.Config.Name))).ToList();
    }

    static string Slug(string label) => string.Concat(label.ToLowerInvariant().Select(c => char.IsLetterOrDigit(c) || c == '.' ? c : '-')).Trim('-');
}
