namespace Fop.Research.Studies;

/// <summary>
/// Plans a tuned grid from the points already run, as a pure function of them (so a study resumes by asking again): first
/// the initial exponents; then, while a cell's best point is on an edge of its grid, one more point beyond that edge; once
/// every cell is interior or at <see cref="TuneSpec.MaxRuns"/>, cells with fewer runs than the largest (and than
/// <see cref="TuneSpec.MinRuns"/>) get one point beyond their edge nearer the best, so every cell of a base config spends
/// the same number of tuning runs. Points are exponents k of centre x step^k; metrics are validation accuracies, NaN for a
/// run that diverged or stalled.
/// </summary>
public static class BracketingGrid
{
    /// <summary>
    /// The exponents to run next per cell (empty lists everywhere: the grid is settled). <paramref name="done"/> maps each
    /// cell (variant label) to its finished points.
    /// </summary>
    public static IReadOnlyDictionary<string, IReadOnlyList<int>> Next(TuneSpec spec, IReadOnlyDictionary<string, IReadOnlyDictionary<int, double>> done)
    {
        var missing = done.ToDictionary(c => c.Key, c => (IReadOnlyList<int>)spec.Initial.Where(k => !c.Value.ContainsKey(k)).Order().ToList());
        if (missing.Values.Any(m => m.Count > 0)) return missing;

        var extend = done.ToDictionary(c => c.Key, c => (IReadOnlyList<int>)(c.Value.Count < spec.MaxRuns && !Bracketed(c.Value) ? [Beyond(c.Value, Choose(c.Value))] : []));
        if (extend.Values.Any(e => e.Count > 0)) return extend;

        int budget = Math.Min(spec.MaxRuns, Math.Max(spec.MinRuns, done.Values.Max(c => c.Count)));
        return done.ToDictionary(c => c.Key, c => (IReadOnlyList<int>)(c.Value.Count < budget ? [TopUp(c.Value)] : []));
    }

    /// <summary>The chosen exponent: the best metric (NaN counts as worst), ties to the smaller exponent (the more conservative step).</summary>
    public static int Choose(IReadOnlyDictionary<int, double> points) =>
        points.OrderByDescending(p => double.IsNaN(p.Value) ? double.NegativeInfinity : p.Value).ThenBy(p => p.Key).First().Key;

    /// <summary>Whether the chosen point has a point on either side.</summary>
    public static bool Bracketed(IReadOnlyDictionary<int, double> points)
    {
        int chosen = Choose(points);
        return points.Keys.Any(k => k < chosen) && points.Keys.Any(k => k > chosen);
    }

    /// <summary>One past the edge the chosen point sits on (below when it is the lowest).</summary>
    static int Beyond(IReadOnlyDictionary<int, double> points, int chosen) =>
        chosen == points.Keys.Min() ? chosen - 1 : points.Keys.Max() + 1;

    /// <summary>One past the edge nearer the chosen point (the lower edge on a tie): extra runs go where the optimum may still move.</summary>
    static int TopUp(IReadOnlyDictionary<int, double> points)
    {
        int chosen = Choose(points), low = points.Keys.Min(), high = points.Keys.Max();
        return chosen - low <= high - chosen ? low - 1 : high + 1;
    }
}
