using Fop.Research.Training;

namespace Fop.Research.Studies;

/// <summary>Reads a rate-sensitivity study's runs as curve points: each run's rate, optimizer, crossings of the targets, best validation accuracy and failure.</summary>
public static class RateCurves
{
    /// <summary>
    /// The points of <paramref name="runs"/> (a study's results): the rate is the run's learning rate (its summary), the
    /// optimizer its config's, the family the label of the study variant it came from (before a grid expanded it).
    /// </summary>
    public static IReadOnlyList<CurveRun> Read(StudyFile study, IReadOnlyList<StudyRun> runs, IReadOnlyList<double> targets)
    {
        var family = study.Variants.ToDictionary(v => v.Label, v => v.Family);
        return runs.Select(r =>
        {
            var evaluations = ValidationCurve.Read(r.RunDir);
            var config = ConfigFile.Load(Path.Combine(r.RunDir, "config.json"));
            var s = r.Summary;
            return new CurveRun(r.Config, family.GetValueOrDefault(r.Variant, r.Variant), config.OptimizerName, config.BatchSize, s.Lr, r.Seed,
                targets.Select(t => ValidationCurve.Crossing(evaluations, t)).ToList(), s.BestValAccuracy, s.Diverged, s.MedianStepMs, s.Name, r.RunDir);
        }).ToList();
    }

    /// <summary>The rates of one curve, ascending.</summary>
    public static IReadOnlyList<double> Rates(IReadOnlyList<CurveRun> runs, string config, string family) =>
        runs.Where(r => r.Config == config && r.Family == family).Select(r => r.Rate).Distinct().Order().ToList();

    /// <summary>
    /// Every point of every curve summarised over its seeds: how many seeds reached each target, their steps (mean, range)
    /// and the coarsest resolution of those crossings, best validation accuracy (mean, range) and failures.
    /// </summary>
    public static IReadOnlyList<CurvePoint> Points(IReadOnlyList<CurveRun> runs, IReadOnlyList<double> targets) =>
        runs.GroupBy(r => (r.Config, r.Family, r.Rate)).OrderBy(g => g.Key.Config, StringComparer.Ordinal).ThenBy(g => g.Key.Family, StringComparer.Ordinal).ThenBy(g => g.Key.Rate)
            .Select(g =>
            {
                var seeds = g.OrderBy(r => r.Seed).ToList();
                var reach = targets.Select(t =>
                {
                    var steps = seeds.Select(r => r.At(t)).Where(c => c.Reached).ToList();
                    return new PointReach(t, steps.Count, steps.Select(c => (double)c.Step!.Value).DefaultIfEmpty(double.NaN).Average(),
                        steps.Select(c => (double)c.Step!.Value).DefaultIfEmpty(double.NaN).Min(), steps.Select(c => (double)c.Step!.Value).DefaultIfEmpty(double.NaN).Max(),
                        steps.Select(c => c.Resolution!.Value).DefaultIfEmpty(0).Max());
                }).ToList();
                var acc = seeds.Select(r => r.BestValAccuracy).Where(double.IsFinite).ToList();
                return new CurvePoint(g.Key.Config, g.Key.Family, seeds[0].Optimizer, g.Key.Rate, seeds.Select(r => r.Seed).ToList(), reach,
                    acc.DefaultIfEmpty(double.NaN).Average(), acc.DefaultIfEmpty(double.NaN).Min(), acc.DefaultIfEmpty(double.NaN).Max(), seeds.Count(r => r.Failed));
            }).ToList();
}
