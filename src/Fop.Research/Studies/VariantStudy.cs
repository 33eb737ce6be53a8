using System.Globalization;
using System.Text;
using Fop.Research.Io;
using Fop.Research.Training;

namespace Fop.Research.Studies;

/// <summary>One run of a study file: its base config's name, variant, seed, summary and folder.</summary>
public sealed record StudyRun(string Config, string Variant, long Seed, RunSummary Summary, string RunDir)
{
    IReadOnlyList<EpochMetrics>? metrics;

    /// <summary>The run's metrics.csv, read once (tables ask for several targets of every run).</summary>
    public IReadOnlyList<EpochMetrics> Metrics => metrics ??= File.Exists(Path.Combine(RunDir, "metrics.csv")) ? EpochMetrics.Read(RunDir) : [];

    /// <summary>Epoch and training seconds of the first evaluation at or above <paramref name="target"/> (nulls when never).</summary>
    public (int? Epochs, double? Seconds) ToTarget(double target) => FirstCrossing.Of(Metrics, target);
}

/// <summary>One run a study file plans: its base config's name, variant, seed and config.</summary>
public sealed record PlannedRun(string BaseConfig, string Variant, long Seed, RunConfig Config);

/// <summary>Runs a <see cref="StudyFile"/> (resumably, seeds outermost so an interrupted study has whole seeds) and writes its results, tables and run records.</summary>
public static class VariantStudy
{
    /// <summary>
    /// Trains (or reads back) every config x variant for seed 0, then seed 1, ... under <c>runner.RunsDir</c>. Every planned
    /// config is built and validated before the first run; <paramref name="afterRun"/> sees the runs so far after each one.
    /// </summary>
    public static IReadOnlyList<StudyRun> Run(StudyFile study, string studyDir, StudyRunner runner, Action<IReadOnlyList<StudyRun>>? afterRun = null, string resultsRoot = "experiments/results")
    {
        var planned = Plan(study, studyDir, resultsRoot);
        // The whole plan is checked against finished runs first: a refusal leaves the results folder as it was.
        foreach (var p in planned) runner.Check(p.Config);
        var runs = new List<StudyRun>();
        foreach (var p in planned)
        {
            runs.Add(new StudyRun(p.BaseConfig, p.Variant, p.Seed, runner.Run(p.Config), runner.RunDir(p.Config.Name)));
            afterRun?.Invoke(runs);
        }
        return runs;
    }

    /// <summary>Every run the study plans, seeds outermost, each config built and validated (nothing is trained or written).</summary>
    public static IReadOnlyList<PlannedRun> Plan(StudyFile study, string studyDir, string resultsRoot = "experiments/results")
    {
        var bases = Bases(study, studyDir);
        return study.Seeds.SelectMany(seed => bases.SelectMany(b => study.Variants.Where(v => v.RunsOn(b.Name)).Select(v => new PlannedRun(b.Name, v.Label, seed,
            ConfigFile.Override(b, v.Overrides(b.Name, resultsRoot).Concat([$"seed={seed}", $"name={b.Name}-{StudyFile.Slug(v.Label)}-s{seed}"])).Validate())))).ToList();
    }

    /// <summary>The study's base configs (with its common overrides), checked to have distinct names that the variants' config lists name.</summary>
    public static IReadOnlyList<RunConfig> Bases(StudyFile study, string studyDir)
    {
        var bases = study.BaseConfigs(studyDir);
        var names = bases.Select(b => b.Name).ToList();
        if (names.Distinct().Count() != names.Count) throw new ArgumentException($"{study.Name}: base configs must have distinct names.");
        foreach (var v in study.Variants)
            if (v.Configs.FirstOrDefault(c => !names.Contains(c)) is { } unknown)
                throw new ArgumentException($"{study.Name}: variant '{v.Label}' names config '{unknown}', not one of the base configs ({string.Join(", ", names)}).");
        if (study.TargetFrom is { } from && !names.Contains(from.Config))
            throw new ArgumentException($"{study.Name}: target_from.config '{from.Config}' is not one of the base configs ({string.Join(", ", names)}).");
        return bases;
    }

    /// <summary>The thresholds a study reports: its own (with the derived one once its cell has runs), else the distinct targets of its runs.</summary>
    public static IReadOnlyList<double> Targets(StudyFile study, IReadOnlyList<StudyRun> runs)
    {
        var own = study.Targets.Count > 0 ? study.Targets : runs.Select(r => r.Summary.TargetAccuracy).OfType<double>().Distinct().Order().ToList();
        return study.TargetFrom?.From(runs) is double derived ? own.Append(derived).Distinct().Order().ToList() : own;
    }

    /// <summary>The files of a run folder copied into a study's results/runs (reused.json: the run is another study's, see <see cref="RunReuse"/>; evals.csv: validation between steps near a target).</summary>
    public static IReadOnlyList<string> Recorded { get; } = ["config.json", "summary.json", "metrics.csv", "evals.csv", "reused.json"];
    /// <summary>Runs of at most this many steps also keep their steps.csv in the results.</summary>
    public const long StepsLogLimit = 250;

    /// <summary>
    /// Writes results.csv (one row per run, epochs and seconds to each target), table.md, and a copy of every run's
    /// config.json, summary.json and metrics.csv under <c>runs/</c> of <paramref name="dir"/> (small files, meant to be committed).
    /// </summary>
    public static void Write(string dir, StudyFile study, IReadOnlyList<StudyRun> runs, string provenance, TunedResults? tuned = null)
    {
        Directory.CreateDirectory(dir);
        var targets = Targets(study, runs);
        var ci = CultureInfo.InvariantCulture;
        var header = new[] { "config", "variant", "seed", "run", "epochs_run", "best_accuracy", "final_accuracy", "best_val_accuracy", "final_val_accuracy", "ms_per_step", "train_seconds", "diverged_or_stalled" }
            .Concat(targets.SelectMany(t => new[] { string.Create(ci, $"epochs_to_{t:g4}"), string.Create(ci, $"seconds_to_{t:g4}") })).ToList();
        var rows = runs.Select(r =>
        {
            var s = r.Summary;
            var cells = new List<string> { r.Config, r.Variant, r.Seed.ToString(ci), s.Name, s.EpochsRun.ToString(ci), s.BestTestAccuracy.ToString("F4", ci),
                s.FinalTestAccuracy.ToString("F4", ci), s.BestValAccuracy.ToString("F4", ci), s.FinalValAccuracy.ToString("F4", ci), s.MedianStepMs.ToString("F1", ci), s.TrainSeconds.ToString("F1", ci), s.Diverged is null ? "0" : "1" };
            foreach (var t in targets)
            {
                var (e, sec) = r.ToTarget(t);
                cells.Add(e?.ToString(ci) ?? "");
                cells.Add(sec?.ToString("F1", ci) ?? "");
            }
            return (IReadOnlyList<string>)cells;
        });
        AtomicFile.WriteAllText(Path.Combine(dir, "results.csv"), CsvTable.Text(header, rows));
        var folders = runs.Select(r => (r.RunDir, r.Summary)).ToList();
        if (tuned is not null)
        {
            AtomicFile.WriteAllText(Path.Combine(dir, "tuning.csv"), CsvTable.Text(
                ["config", "variant", "exponent", study.Tune!.Key, "run", Snake(study.Tune.Metric), "epochs_run", "diverged_or_stalled"],
                tuned.Points.Select(p => (IReadOnlyList<string>)[p.Config, p.Variant, p.Exponent.ToString(ci), p.Value.ToString("g6", ci), p.Summary.Name,
                    p.Metric.ToString("F4", ci), p.Summary.EpochsRun.ToString(ci), p.Summary.Diverged is null ? "0" : "1"])));
            folders.AddRange(tuned.Points.Select(p => (p.RunDir, p.Summary)));
        }
        foreach (var (runDir, summary) in folders)
        {
            var copy = Path.Combine(dir, "runs", Path.GetFileName(runDir));
            Directory.CreateDirectory(copy);
            // Results are rewritten after every run: copy only what changed since the last copy. The per-step log (loss, beta,
            // eta, the KL-clip factor) is small for the half- and full-batch runs, the ones the mechanism and damping studies read.
            foreach (var f in Recorded.Concat(study.Records).Concat(summary.Steps <= StepsLogLimit ? ["steps.csv"] : []).Distinct())
            {
                string source = Path.Combine(runDir, f), target = Path.Combine(copy, f);
                if (File.Exists(source) && (!File.Exists(target) || File.GetLastWriteTimeUtc(source) > File.GetLastWriteTimeUtc(target)))
                    File.Copy(source, target, overwrite: true);
            }
        }
        AtomicFile.WriteAllText(Path.Combine(dir, "table.md"), Table(study, runs, provenance) + (tuned is null ? "" : TuningTable(study, tuned)));
        if (tuned is { Choices.Count: > 0 }) ChoiceRef.Write(dir, tuned.Choices);
    }

    /// <summary>
    /// The tuning section of table.md: per base config and variant every grid value with its validation metric, the chosen
    /// one in bold, whether it is interior (bracketed), the runs spent and whether the variant went on to the seeds.
    /// </summary>
    public static string TuningTable(StudyFile study, TunedResults tuned)
    {
        var spec = study.Tune!;
        var ci = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        sb.AppendLine();
        sb.AppendLine($"## Tuning ({spec.Key}, seed {spec.Seed}, judged by {Snake(spec.Metric).Replace('_', ' ')} in %; diverged or stalled: ✗)");
        sb.AppendLine();
        sb.AppendLine($"Grid: centre x {spec.Step.ToString("g4", ci)}^k, centre = the config's {spec.Key}" + (spec.Centre == TuneCentre.Linear ? $" x batch / {spec.ReferenceBatch}" : "") +
                      $"; extended past an edge until the choice is interior (at most {spec.MaxRuns} runs), then topped up so that every variant of a config spends the same number of runs (at least {spec.MinRuns}). " +
                      (spec.Compete.Count > 0 ? "Of " + string.Join("; ", spec.Compete.Select(g => string.Join(" / ", g))) + " only the best goes on to the seeds. " : "") +
                      $"Tuning runs in total: {tuned.Points.Count}.");
        foreach (var config in tuned.Points.Select(p => p.Config).Distinct())
        {
            sb.AppendLine();
            sb.AppendLine($"### {config}");
            sb.AppendLine();
            sb.AppendLine($"| variant | runs | chosen {spec.Key} | bracketed | seeds | {spec.Key}: metric |");
            sb.AppendLine("|---|---|---|---|---|---|");
            foreach (var variant in tuned.Points.Where(p => p.Config == config).Select(p => p.Variant).Distinct())
            {
                var mine = tuned.Points.Where(p => p.Config == config && p.Variant == variant).OrderBy(p => p.Exponent).ToList();
                var choice = tuned.Choices.FirstOrDefault(c => c.Config == config && c.Variant == variant);
                var grid = string.Join(", ", mine.Select(p =>
                {
                    var cell = $"{p.Value.ToString("g4", ci)}: {(double.IsNaN(p.Metric) ? "✗" : (100 * p.Metric).ToString("F2", ci))}";
                    return choice is not null && p.Value == choice.Value ? $"**{cell}**" : cell;
                }));
                sb.AppendLine(choice is null
                    ? $"| {variant} | {mine.Count} | (grid not settled) | | | {grid} |"
                    : $"| {variant} | {choice.Runs} | {choice.Value.ToString("g4", ci)} | {(choice.Bracketed ? "yes" : "**no (edge)**")} | {(choice.Seeded ? "yes" : "no")} | {grid} |");
            }
        }
        return sb.ToString();
    }

    static string Snake(TuneMetric metric) => metric == TuneMetric.FinalValAccuracy ? "final_val_accuracy" : "best_val_accuracy";

    /// <summary>
    /// table.md: per config and variant the mean and 95% interval over seeds of epochs and seconds to each target (over
    /// the seeds that reached it), best and final test accuracy and ms/step; then every variant against the reference,
    /// paired by seed (differences, and ratios of seconds to target).
    /// </summary>
    public static string Table(StudyFile study, IReadOnlyList<StudyRun> runs, string provenance)
    {
        var targets = Targets(study, runs);
        var sb = new StringBuilder();
        sb.AppendLine($"# {study.Name}");
        sb.AppendLine();
        if (study.Question.Length > 0) { sb.AppendLine(study.Question); sb.AppendLine(); }
        sb.AppendLine(provenance);
        sb.AppendLine();
        bool val = runs.Any(r => double.IsFinite(r.Summary.BestValAccuracy));
        sb.AppendLine("Cells: mean ± half-width of the 95% Student-t interval over seeds (n=1: no interval). Epochs and training seconds " +
                      "(evaluation excluded) to a target average the seeds that reached it; reached/run says how many did. " +
                      (val ? "Targets are crossings of **validation** accuracy (the runs' held-out split, on which everything was decided); test accuracy is reported, never used. " : "") +
                      (study.TargetFrom is { } from ? $"Derived target: {from.Label}" + (study.TargetFrom.From(runs) is double d ? $" = {100 * d:F2}%. " : " (not known yet). ") : "") +
                      "Generated from results.csv; do not edit.");
        string accHeader = val ? "best val acc (%) | final test acc (%)" : "best test acc (%) | final test acc (%)";
        Func<StudyRun, double> first = val ? r => r.Summary.BestValAccuracy : r => r.Summary.BestTestAccuracy;
        foreach (var config in runs.Select(r => r.Config).Distinct())
        {
            sb.AppendLine();
            sb.AppendLine($"## {config}");
            sb.AppendLine();
            sb.AppendLine("| variant | runs | " + string.Concat(targets.Select(t => string.Create(CultureInfo.InvariantCulture, $"reached {t:P2} | epochs to {t:P2} | seconds to {t:P2} | "))) + accHeader + " | ms/step |");
            sb.AppendLine("|---|---|" + string.Concat(targets.Select(_ => "---|---|---|")) + "---|---|---|");
            foreach (var variant in study.Variants.Select(v => v.Label))
            {
                var mine = runs.Where(r => r.Config == config && r.Variant == variant).ToList();
                if (mine.Count == 0) continue;
                var cells = new List<string> { variant, mine.Count.ToString(CultureInfo.InvariantCulture) };
                foreach (var t in targets)
                {
                    var hits = mine.Select(r => r.ToTarget(t)).Where(x => x.Epochs is not null).ToList();
                    cells.Add($"{hits.Count}/{mine.Count}");
                    cells.Add(ConfidenceInterval.Of(hits.Select(h => (double)h.Epochs!.Value)).ToString("0.#"));
                    cells.Add(ConfidenceInterval.Of(hits.Select(h => h.Seconds!.Value)).ToString("0"));
                }
                cells.Add(ConfidenceInterval.Of(mine.Select(r => first(r) * 100)).ToString("0.00"));
                cells.Add(ConfidenceInterval.Of(mine.Select(r => r.Summary.FinalTestAccuracy * 100)).ToString("0.00"));
                cells.Add(ConfidenceInterval.Of(mine.Select(r => r.Summary.MedianStepMs)).ToString("0"));
                sb.AppendLine("| " + string.Join(" | ", cells) + " |");
            }
            var reference = study.ReferenceLabel;
            var others = study.Variants.Select(v => v.Label).Where(v => v != reference && runs.Any(r => r.Config == config && r.Variant == v)).ToList();
            if (others.Count == 0 || !runs.Any(r => r.Config == config && r.Variant == reference)) continue;
            sb.AppendLine();
            sb.AppendLine($"Paired by seed against **{reference}** (variant minus reference; a ratio of seconds below 1 is faster; an interval that excludes 0, or 1 for a ratio, is a difference these seeds resolve):");
            sb.AppendLine();
            sb.AppendLine("| variant | " + string.Concat(targets.Select(t => string.Create(CultureInfo.InvariantCulture, $"pairs at {t:P2} | Δ epochs | seconds ratio | "))) + (val ? "Δ best val acc (points) | Δ final test acc (points) |" : "Δ best acc (points) | Δ final acc (points) |"));
            sb.AppendLine("|---|" + string.Concat(targets.Select(_ => "---|---|---|")) + "---|---|");
            foreach (var variant in others)
            {
                var pairs = Pairs(runs, config, variant, reference);
                var cells = new List<string> { variant };
                foreach (var t in targets)
                {
                    var both = pairs.Select(p => (A: p.Variant.ToTarget(t), B: p.Reference.ToTarget(t))).Where(p => p.A.Epochs is not null && p.B.Epochs is not null).ToList();
                    cells.Add($"{both.Count}/{pairs.Count}");
                    cells.Add(ConfidenceInterval.Of(both.Select(p => (double)(p.A.Epochs!.Value - p.B.Epochs!.Value))).ToString("+0.#;-0.#;0"));
                    cells.Add(ConfidenceInterval.Of(both.Select(p => p.A.Seconds!.Value / p.B.Seconds!.Value)).ToString("0.00"));
                }
                cells.Add(ConfidenceInterval.Of(pairs.Select(p => (first(p.Variant) - first(p.Reference)) * 100)).ToString("+0.00;-0.00;0"));
                cells.Add(ConfidenceInterval.Of(pairs.Select(p => (p.Variant.Summary.FinalTestAccuracy - p.Reference.Summary.FinalTestAccuracy) * 100)).ToString("+0.00;-0.00;0"));
                sb.AppendLine("| " + string.Join(" | ", cells) + " |");
            }
        }
        return sb.ToString();
    }

    /// <summary>Runs of <paramref name="variant"/> and <paramref name="reference"/> on <paramref name="config"/> with the same seed.</summary>
    public static IReadOnlyList<(StudyRun Variant, StudyRun Reference)> Pairs(IReadOnlyList<StudyRun> runs, string config, string variant, string reference) =>
        runs.Where(r => r.Config == config && r.Variant == variant)
            .Join(runs.Where(r => r.Config == config && r.Variant == reference), a => a.Seed, b => b.Seed, (a, b) => (a, b)).ToList();

    /// <summary>
    /// Records this invocation in invocations.md: when it started and was last written, which commit, which machine, the
    /// command, wall time and runs trained. Called after every run and at the end, it rewrites its own line, so an
    /// invocation that is interrupted keeps a record of what it did ("running or interrupted").
    /// </summary>
    public static void RecordInvocation(string dir, string command, string commit, string machine, DateTime started, TimeSpan wall, int trained, int total, bool finished)
    {
        Directory.CreateDirectory(dir);
        var path = Path.Combine(dir, "invocations.md");
        const string header = "| started -> last written (UTC) | commit | machine | command | wall | runs trained / in study |";
        var lines = File.Exists(path) ? File.ReadAllLines(path).ToList() : ["# Invocations", "", header, "|---|---|---|---|---|---|"];
        if (lines.Count > 2 && lines[2].StartsWith("| finished (UTC)", StringComparison.Ordinal)) lines[2] = header;
        var key = $"| {started:yyyy-MM-dd HH:mm:ss} ->";
        var row = $"{key} {DateTime.UtcNow:yyyy-MM-dd HH:mm}{(finished ? "" : " (running or interrupted)")} | {commit} | {machine} | `{command}` | {wall:hh\\:mm\\:ss} | {trained} / {total} |";
        int at = lines.FindIndex(l => l.StartsWith(key, StringComparison.Ordinal));
        if (at >= 0) lines[at] = row;
        else lines.Add(row);
        AtomicFile.WriteAllLines(path, lines);
    }
}
