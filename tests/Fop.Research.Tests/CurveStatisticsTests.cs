using Fop.Research.Studies;

namespace Fop.Research.Tests;

/// <summary>
/// The statistics of the rate-curve claims against hand-computed values: Holm's step-down, the exact McNemar test, the
/// Student-t interval and p-value, cross-fitted rate choice, the cost range carried into a time ratio, and the verdicts.
/// </summary>
public sealed class CurveStatisticsTests : IDisposable
{
    readonly string dir = Directory.CreateTempSubdirectory("fop-curvestats-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    [Fact]
    public void HolmMatchesAHandWorkedFamily()
    {
        // Sorted: 0.005, 0.01, 0.03, 0.04 against 0.05/4, 0.05/3, 0.05/2, 0.05: the first two pass, the third fails and stops it.
        var d = HolmBonferroni.Adjust([0.01, 0.04, 0.03, 0.005]);
        Assert.Equal([0.03, 0.06, 0.06, 0.02], d.Select(x => Math.Round(x.Adjusted, 12)));
        Assert.Equal([true, false, false, true], d.Select(x => x.Rejected));
        // Adjusted values never exceed 1, never fall with rank, and a missing test counts as p = 1.
        Assert.Equal([1, 1, 0.03], HolmBonferroni.Adjust([0.6, double.NaN, 0.01]).Select(x => Math.Round(x.Adjusted, 12)));
        Assert.Empty(HolmBonferroni.Adjust([]));
    }

    [Theory]
    [InlineData(5, 0, 2.0 / 32)]            // 5 discordant pairs, all one way: 2 x (1/2)^5
    [InlineData(6, 0, 2.0 / 64)]
    [InlineData(7, 1, 2.0 * 9 / 256)]        // 2 x (C(8,0) + C(8,1)) / 2^8
    [InlineData(10, 2, 2.0 * 79 / 4096)]     // 2 x (1 + 12 + 66) / 2^12
    [InlineData(3, 3, 1.0)]                  // capped at 1
    [InlineData(0, 0, 1.0)]                  // no discordant pair: no evidence
    public void McNemarIsTheExactBinomialOfTheDiscordantPairs(int onlyFirst, int onlySecond, double p)
    {
        Assert.Equal(p, McNemarExact.TwoSided(onlyFirst, onlySecond), 12);
        Assert.Equal(p, McNemarExact.TwoSided(onlySecond, onlyFirst), 12);
    }

    [Fact]
    public void APairedDifferenceHasTheStudentTIntervalAndPValue()
    {
        var d = PairedDifference.Of([1, 2, 3, 4, 5, double.NaN]);
        Assert.Equal(5, d.Count);
        Assert.Equal(3, d.Mean, 12);
        Assert.Equal(2.7764451051977987 * Math.Sqrt(0.5), d.Upper - 3, 9);      // t(0.975, 4) x sd / sqrt(n)
        Assert.Equal(0.0132356, d.P, 6);                                        // t = 4.243 on 4 df
        Assert.True(double.IsNaN(PairedDifference.Of([2]).P));
        Assert.Equal(1, PairedDifference.Of([0, 0, 0]).P);
        // A shift known only as a range: the interval covers every shift, the p-value is the worst; a range reaching 0 gives 1.
        var shifted = d.Shifted(0.5, -1, 1);
        Assert.Equal((3.5, d.Lower - 1, d.Upper + 1), (shifted.Mean, shifted.Lower, shifted.Upper));
        Assert.Equal(PairedDifference.Of([0, 1, 2, 3, 4]).P, shifted.P, 9);
        Assert.Equal(1, d.Shifted(-3, -3.5, 0).P);
    }

    static CurveRun Run(string family, double rate, long seed, double accuracy, long? steps = null, string optimizer = "fop", double ms = 10, bool failed = false) =>
        new("c", family, optimizer, 512, rate, seed, [new TargetCrossing(0.9, steps, steps is long s ? s - 1 : 100)], accuracy, failed ? "diverged" : null, ms, $"{family}-{rate}-{seed}", "");

    [Fact]
    public void CrossFittingChoosesOnTheOtherSeedsWhereOneSeedSelectionRidesItsLuck()
    {
        // Seed 0 is lucky at rate 1; seeds 1 and 2 are better at rate 2, and so is the mean.
        double[][] acc = [[0.90, 0.85, 0.80], [0.80, 0.88, 0.82], [0.81, 0.87, 0.83]];
        double[] rates = [1, 2, 4];
        var runs = Enumerable.Range(0, 3).SelectMany(s => rates.Select((r, i) => Run("A", r, s, acc[s][i]))).ToList();

        var one = CrossFitting.OneSeed(runs, "c", "A", CurveMetric.BestValAccuracy, 0);
        Assert.Equal([(1L, 1.0, 0.80), (2L, 1.0, 0.81)], one.Select(c => (c.HeldOut, c.Rate, c.Score!.Value)));
        var cross = CrossFitting.LeaveOneSeedOut(runs, "c", "A", CurveMetric.BestValAccuracy);
        Assert.Equal([(0L, 2.0, 0.85), (1L, 2.0, 0.88), (2L, 2.0, 0.87)], cross.Select(c => (c.HeldOut, c.Rate, c.Score!.Value)));

        // Steps to a target: rate 4 is fastest where it reaches the target but fails on seed 1, so only the selection
        // without seed 1 (held-out seed 1) takes it, and the held-out seed then fails there.
        var steps = new List<CurveRun>
        {
            Run("B", 1, 0, 0.9, 300), Run("B", 2, 0, 0.9, 200), Run("B", 4, 0, 0.9, 100),
            Run("B", 1, 1, 0.9, 310), Run("B", 2, 1, 0.9, 210), Run("B", 4, 1, 0.5, null, failed: true),
            Run("B", 1, 2, 0.9, 290), Run("B", 2, 2, 0.9, 190), Run("B", 4, 2, 0.9, 90),
        };
        var choices = CrossFitting.LeaveOneSeedOut(steps, "c", "B", CurveMetric.StepsTo(0.9));
        Assert.Equal([(0L, 2.0, (double?)200), (1L, 4.0, null), (2L, 2.0, 190)], choices.Select(c => (c.HeldOut, c.Rate, c.Score)));
        // A tie goes to the smaller rate.
        Assert.Equal(1.0, CrossFitting.Choose([Run("C", 2, 0, 0.8), Run("C", 1, 0, 0.8)], CurveMetric.BestValAccuracy, [0]));
    }

    [Fact]
    public void ATimeRatioCarriesTheBenchRangeAndPairsByHeldOutSeed()
    {
        var bench = Path.Combine(dir, "bench.json");
        File.WriteAllText(bench, """
            { "batch": 512, "machine": "test", "rounds_detail": [
              { "round": 0, "optimizer": "kfac", "ms_per_step": 100 }, { "round": 0, "optimizer": "fop", "ms_per_step": 110 },
              { "round": 1, "optimizer": "fop", "ms_per_step": 130 }, { "round": 1, "optimizer": "kfac", "ms_per_step": 100 },
              { "round": 2, "optimizer": "kfac", "ms_per_step": 100 }, { "round": 2, "optimizer": "fop", "ms_per_step": 120 } ] }
            """);
        var costs = new StepCosts(new Dictionary<string, BenchCosts> { ["c"] = BenchCosts.Load(bench) });
        var ratio = costs.Ratio([], "c", "fop", "kfac");
        Assert.Equal((1.2, 1.1, 1.3), (Math.Round(ratio.Median, 12), Math.Round(ratio.Min, 12), Math.Round(ratio.Max, 12)));

        // One rate each, so the cross-fitted choice is that rate; FOP needs 70/72/74 steps where KFAC needs 100.
        var runs = new List<CurveRun>();
        for (long s = 0; s < 3; s++)
        {
            runs.Add(Run("FOP", 1, s, 0.92, 70 + 2 * s));
            runs.Add(Run("KFAC", 1, s, 0.91, 100, optimizer: "kfac"));
        }
        var cells = CurveComparisons.CrossFitted(runs, "c", "FOP", "KFAC", [0.9], costs);
        var time = cells.Single(c => c.Kind == CellKind.TimeRatio);
        var logs = PairedDifference.Of([Math.Log(0.70), Math.Log(0.72), Math.Log(0.74)]);
        Assert.Equal(3, time.Pairs);
        Assert.Equal(Math.Exp(logs.Mean) * 1.2, time.Estimate, 9);
        Assert.Equal(Math.Exp(logs.Lower) * 1.1, time.Lower, 9);
        Assert.Equal(Math.Exp(logs.Upper) * 1.3, time.Upper, 9);
        var accuracy = cells.Single(c => c.Kind == CellKind.AccuracyDifference);
        Assert.Equal(1.0, accuracy.Estimate, 9);
        Assert.Equal(0, accuracy.P);      // +1 point in every pair: no spread, so no difference is impossible
    }

    [Fact]
    public void MatchedRatesPairByRateAndSeedAndTestReachingWithMcNemar()
    {
        // At rate 4 KFAC fails in every seed while FOP reaches the target; at rates 1 and 2 both do, FOP in 80% of KFAC's steps.
        var runs = new List<CurveRun>();
        foreach (double rate in new[] { 1.0, 2.0, 4.0 })
            for (long s = 0; s < 3; s++)
            {
                runs.Add(Run("FOP", rate, s, 0.92, 80));
                runs.Add(rate < 4 ? Run("KFAC", rate, s, 0.92, 100, "kfac") : Run("KFAC", rate, s, 0.6, null, "kfac", failed: true));
            }
        var cells = CurveComparisons.MatchedRates(runs, "c", "FOP", "KFAC", [0.9], StepCosts.InRun);
        var reach = cells.Single(c => c.Kind == CellKind.Reach);
        Assert.Equal((9, 3, 0), (reach.Pairs, reach.OnlyFop, reach.OnlyOther));
        Assert.Equal(0.25, reach.P, 12);
        var time = cells.Single(c => c.Kind == CellKind.TimeRatio);
        Assert.Equal((6, 0.8), (time.Pairs, Math.Round(time.Estimate, 9)));
        Assert.Equal(6, cells.Single(c => c.Kind == CellKind.AccuracyDifference).Pairs);      // the failed runs are left out
    }

    [Fact]
    public void TheSecondFamilyPairsFopsCurveWithEachComparatorAtCrossFittedRatesAndABenchThatTimedBoth()
    {
        // FOP's study has FOP and KFAC; the comparator study has Shampoo and Muon on the same config and one FOP does not have.
        var fopRuns = new List<CurveRun>();
        var otherRuns = new List<CurveRun>();
        for (long s = 0; s < 3; s++)
        {
            foreach (double rate in new[] { 1.0, 2.0 }) fopRuns.Add(Run("FOP", rate, s, 0.92, rate == 2 ? 60 : 80));
            fopRuns.Add(Run("KFAC", 1, s, 0.91, 100, "kfac"));
            otherRuns.Add(Run("Shampoo", 4, s, 0.90, 120, "shampoo"));
            otherRuns.Add(Run("Muon", 8, s, 0.93, 50 + s, "muon"));
            otherRuns.Add(Run("Muon", 8, s, 0.93, 50, "muon") with { Config = "elsewhere" });
        }
        StudyFile Study(string name, params string[] families) => new() { Name = name, Variants = families.Select(f => new StudyVariant { Label = f }).ToList(), Seeds = [0, 1, 2] };
        var bench = Path.Combine(dir, "newopt.json");
        File.WriteAllText(bench, """
            { "batch": 512, "rounds_detail": [
              { "round": 0, "optimizer": "fop", "ms_per_step": 100 }, { "round": 0, "optimizer": "shampoo", "ms_per_step": 50 }, { "round": 0, "optimizer": "muon", "ms_per_step": 25 },
              { "round": 1, "optimizer": "fop", "ms_per_step": 100 }, { "round": 1, "optimizer": "shampoo", "ms_per_step": 50 }, { "round": 1, "optimizer": "muon", "ms_per_step": 20 } ] }
            """);
        var costs = new StepCosts(new Dictionary<string, IReadOnlyList<BenchCosts>> { ["c"] = [BenchCosts.Load(bench)] });
        var fop = new CurveStudy(Study("curves", "FOP", "KFAC"), fopRuns, [0.9], costs);
        var others = new CurveStudy(Study("newopt", "Shampoo", "Muon"), otherRuns, [0.9], costs);

        var cells = CurveClaims.ComparatorCells(fop, others);
        // Time and accuracy against each comparator on the shared config only; none against KFAC, none on "elsewhere".
        Assert.Equal(["c: FOP vs Shampoo, cross-fitted, time to 90%", "c: FOP vs Shampoo, cross-fitted, best val acc",
                      "c: FOP vs Muon, cross-fitted, time to 90%", "c: FOP vs Muon, cross-fitted, best val acc"], cells.Select(c => c.Key));
        // FOP at its faster rate 2 (60 steps) against Shampoo's 120, at twice Shampoo's cost per step: the times tie.
        var shampoo = cells[0];
        Assert.Equal((3, 1.0, 1.0, 1.0), (shampoo.Pairs, Math.Round(shampoo.Estimate, 9), Math.Round(shampoo.Lower, 9), Math.Round(shampoo.Upper, 9)));
        Assert.False(shampoo.Cost!.InRun);
        // Against Muon the cost is 4-5x, its range widening the interval; FOP is 1 point less accurate.
        Assert.Equal((4.5, 4.0, 5.0), (cells[2].Cost!.Median, cells[2].Cost!.Min, cells[2].Cost!.Max));
        Assert.Equal(-1.0, cells[3].Estimate, 9);
        // No bench that timed the pair: the runs' own medians, and the ratio says so.
        var inRun = CurveClaims.ComparatorCells(fop with { Costs = StepCosts.InRun }, others with { Costs = StepCosts.InRun });
        Assert.True(inRun[0].Cost!.InRun);
        Assert.Contains("*in-run*", CurveClaimsReport.Estimate(inRun[0]));
    }

    [Fact]
    public void VerdictsFollowHolmTheDirectionAndTheBands()
    {
        CurveCell Time(double est, double lo, double hi, int pairs = 3) => new("c", "KFAC", "cross-fitted", CurveMetric.StepsTo(0.9), CellKind.TimeRatio, pairs, 0, 0, est, lo, hi, 0.01, null);
        CurveCell Acc(double est, double lo, double hi) => new("c", "KFAC", "cross-fitted", CurveMetric.BestValAccuracy, CellKind.AccuracyDifference, 3, 0, 0, est, lo, hi, 0.01, null);
        CurveCell Reach(int f, int o) => new("c", "KFAC", "matched rates", CurveMetric.StepsTo(0.9), CellKind.Reach, 9, f, o, f - o, double.NaN, double.NaN, McNemarExact.TwoSided(f, o), null);

        Assert.Equal(Verdict.Supported, CurveClaims.VerdictOf(Time(0.8, 0.7, 0.9), rejected: true));
        Assert.Equal(Verdict.Undecided, CurveClaims.VerdictOf(Time(0.8, 0.7, 0.9), rejected: false));      // Holm did not reject it
        Assert.Equal(Verdict.NotSupported, CurveClaims.VerdictOf(Time(1.2, 1.15, 1.3), rejected: true));
        Assert.Equal(Verdict.NotSupported, CurveClaims.VerdictOf(Time(1.0, 0.95, 1.05), rejected: false)); // inside 0.91-1.10
        Assert.Equal(Verdict.Undecided, CurveClaims.VerdictOf(Time(0.8, 0.7, 0.9, pairs: 2), rejected: true));
        Assert.Equal(Verdict.Supported, CurveClaims.VerdictOf(Acc(1, 0.5, 1.5), rejected: true));
        Assert.Equal(Verdict.NotSupported, CurveClaims.VerdictOf(Acc(0, -0.1, 0.15), rejected: false));
        Assert.Equal(Verdict.Supported, CurveClaims.VerdictOf(Reach(9, 0), rejected: true));
        Assert.Equal(Verdict.Undecided, CurveClaims.VerdictOf(Reach(3, 0), rejected: false));
        Assert.Equal(Verdict.NotSupported, CurveClaims.VerdictOf(Reach(1, 1), rejected: false));

        // Holm runs over the family only; replication cells keep their raw p-values and get no verdict.
        var decided = CurveClaims.Decide([Time(0.8, 0.7, 0.9), Reach(9, 0)], [Acc(1, 0.5, 1.5)]);
        Assert.Equal([true, true, false], decided.Select(d => d.InFamily));
        // p = 0.01 and 2/2^9: the smaller doubled (0.0078), then the larger once (0.01).
        Assert.Equal(0.01, decided[0].Holm!.Adjusted, 12);
        Assert.Null(decided[2].Verdict);
    }
}
