using System.Globalization;
using Fop.Research.Training;

namespace Fop.Research.Studies;

/// <summary>One tuning run: its cell (base config, variant), grid exponent and value, summary, the metric it was judged by, and its folder.</summary>
public sealed record TuningPoint(string Config, string Variant, int Exponent, double Value, RunSummary Summary, double Metric, string RunDir);

/// <summary>
/// The value chosen for one cell, whether it is interior to the grid, how many runs the grid took, whether the cell ran the
/// seeds, and the overrides that reproduce the chosen settings on the base config (the variant's own, then key=value).
/// </summary>
public sealed record TuningChoice(string Config, string Variant, double Value, double Metric, bool Bracketed, int Runs, bool Seeded, IReadOnlyList<string> Overrides);

/// <summary>A tuned study's state: every tuning point, the choices (once the grids settle) and the seed runs so far.</summary>
public sealed record TunedResults(IReadOnlyList<TuningPoint> Points, IReadOnlyList<TuningChoice> Choices, IReadOnlyList<StudyRun> Runs);

/// <summary>
/// Runs a study file with a <see cref="TuneSpec"/>: for every base config, each variant's key is tuned on the validation
/// split with a <see cref="BracketingGrid"/> (same runs per variant), each competing group keeps its best variant, and the
/// chosen settings then run the study's (fresh) seeds, seeds outermost. Every decision is a function of finished runs, so
/// starting it again resumes.
/// </summary>
public static class TunedStudy
{
    /// <summary>Tunes, chooses and runs the seeds under <c>runner.RunsDir</c>; <paramref name="afterRun"/> sees the state after each run.</summary>
    public static TunedResults Run(StudyFile study, string studyDir, StudyRunner runner, Action<TunedResults>? afterRun = null)
    {
        var spec = study.Tune ?? throw new ArgumentException($"{study.Name}: no tune section; run it with VariantStudy.");
        var bases = VariantStudy.Bases(study, studyDir);
        var cells = bases.SelectMany(b => study.Variants.Where(v => v.RunsOn(b.Name)).Select(v => new Cell(b, v, Centre(spec, b, v)))).ToList();
        foreach (var cell in cells)
        {
            if (cell.Config.ValidationExamples <= 0)
                throw new ArgumentException($"{study.Name}: {cell.Config.Name} / {cell.Variant.Label} has no validation split; tuning selects on validation (set validation_examples).");
            foreach (int k in spec.Initial) TuningConfig(spec, cell, k);
        }

        var points = new List<TuningPoint>();
        var choices = new List<TuningChoice>();
        var runs = new List<StudyRun>();
        void Report() => afterRun?.Invoke(new TunedResults(points.ToList(), choices.ToList(), runs.ToList()));

        foreach (var group in cells.GroupBy(c => c.Config.Name))
        {
            while (true)
            {
                var done = group.ToDictionary(c => c.Variant.Label, c => (IReadOnlyDictionary<int, double>)points
                    .Where(p => p.Config == c.Config.Name && p.Variant == c.Variant.Label).ToDictionary(p => p.Exponent, p => p.Metric));
                var next = BracketingGrid.Next(spec, done);
                if (next.Values.All(n => n.Count == 0)) break;
                foreach (var cell in group)
                    foreach (int k in next[cell.Variant.Label])
                    {
                        var config = TuningConfig(spec, cell, k);
                        var summary = runner.Run(config);
                        points.Add(new TuningPoint(cell.Config.Name, cell.Variant.Label, k, spec.Value(cell.Centre, k), summary, Metric(spec, summary), runner.RunDir(config.Name)));
                        Report();
                    }
            }
        }
        choices.AddRange(Choose(spec, cells, points));
        Report();

        var seeded = cells.Where(c => choices.Single(x => x.Config == c.Config.Name && x.Variant == c.Variant.Label).Seeded).ToList();
        foreach (long seed in study.Seeds)
            foreach (var cell in seeded)
            {
                var choice = choices.Single(x => x.Config == cell.Config.Name && x.Variant == cell.Variant.Label);
                var config = ConfigFile.Override(cell.Config, choice.Overrides.Concat([$"seed={seed}",
                    $"name={cell.Config.Name}-{StudyFile.Slug(cell.Variant.Label)}-s{seed}"])).Validate();
                runs.Add(new StudyRun(cell.Config.Name, cell.Variant.Label, seed, runner.Run(config), runner.RunDir(config.Name)));
                Report();
            }
        return new TunedResults(points, choices, runs);
    }

    /// <summary>The metric a tuning run is judged by (NaN for a run that diverged or stalled: it never counts as best).</summary>
    public static double Metric(TuneSpec spec, RunSummary summary) => summary.Diverged is not null ? double.NaN
        : spec.Metric == TuneMetric.FinalValAccuracy ? summary.FinalValAccuracy : summary.BestValAccuracy;

    /// <summary>The choice of every cell; within each competing group only the best chosen metric runs the seeds.</summary>
    static IEnumerable<TuningChoice> Choose(TuneSpec spec, IReadOnlyList<Cell> cells, IReadOnlyList<TuningPoint> points)
    {
        var choices = cells.Select(c =>
        {
            var mine = points.Where(p => p.Config == c.Config.Name && p.Variant == c.Variant.Label).ToDictionary(p => p.Exponent, p => p.Metric);
            int k = BracketingGrid.Choose(mine);
            double value = spec.Value(c.Centre, k);
            return new TuningChoice(c.Config.Name, c.Variant.Label, value, mine[k], BracketingGrid.Bracketed(mine), mine.Count, Seeded: true,
                c.Variant.Set.Append($"{spec.Key}={Number(value)}").ToList());
        }).ToList();
        return choices.Select(choice =>
        {
            var group = spec.Compete.FirstOrDefault(g => g.Contains(choice.Variant));
            if (group is null) return choice;
            var best = choices.Where(x => x.Config == choice.Config && group.Contains(x.Variant))
                .OrderByDescending(x => double.IsNaN(x.Metric) ? double.NegativeInfinity : x.Metric).ThenBy(x => group.ToList().IndexOf(x.Variant)).First();
            return choice with { Seeded = best.Variant == choice.Variant };
        }).ToList();
    }

    static RunConfig TuningConfig(TuneSpec spec, Cell cell, int k) =>
        ConfigFile.Override(cell.Config, cell.Variant.Set.Concat([$"{spec.Key}={Number(spec.Value(cell.Centre, k))}", $"seed={spec.Seed}",
            $"name={cell.Config.Name}-{StudyFile.Slug(cell.Variant.Label)}-tune-{spec.Key.Split('.').Last()}{Number(spec.Value(cell.Centre, k))}"])).Validate();

    static double Centre(TuneSpec spec, RunConfig b, StudyVariant v)
    {
        var config = ConfigFile.Override(b, v.Set);
        double value = ConfigFile.GetNumber(config, spec.Key);
        if (!(value > 0)) throw new ArgumentException($"{b.Name} / {v.Label}: {spec.Key} = {value}; a tuned key must be a positive number.");
        return spec.Centre == TuneCentre.Linear ? value * config.BatchSize / spec.ReferenceBatch : value;
    }

    /// <summary>A tuned value as it appears in --set and run names: four significant digits, invariant culture.</summary>
    static string Number(double v) => v.ToString("g4", CultureInfo.InvariantCulture);

    sealed record Cell(RunConfig Config, StudyVariant Variant, double Centre);
}
