namespace Fop.Research.Studies;

/// <summary>A rate-sensitivity study's committed results as curve points, with the targets they were read at and where their cost per step comes from.</summary>
public sealed record CurveStudy(StudyFile Study, IReadOnlyList<CurveRun> Runs, IReadOnlyList<double> Targets, StepCosts Costs)
{
    /// <summary>Reads the results of <paramref name="study"/> from <paramref name="resultsDir"/> (its results.csv and run records; no runs when it has none yet).</summary>
    public static CurveStudy Load(StudyFile study, string resultsDir, StepCosts costs)
    {
        var runs = StudyResults.Load(resultsDir);
        var targets = VariantStudy.Targets(study, runs);
        return new CurveStudy(study, RateCurves.Read(study, runs, targets), targets, costs);
    }

    /// <summary>The base configs with runs, in the order first seen.</summary>
    public IReadOnlyList<string> Configs => Runs.Select(r => r.Config).Distinct().ToList();

    /// <summary>The optimizer families with runs on <paramref name="config"/>, in the study's variant order.</summary>
    public IReadOnlyList<string> Families(string config) =>
        Study.Variants.Select(v => v.Family).Distinct().Where(f => Runs.Any(r => r.Config == config && r.Family == f)).ToList();
}
