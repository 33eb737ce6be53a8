namespace Fop.Research.Studies;

/// <summary>What one cell of evidence says about a claim.</summary>
public enum Verdict
{
    /// <summary>The evidence favours the claim beyond its 95% interval (or FOP reaches a target significantly more often).</summary>
    Supported,
    /// <summary>The evidence goes the other way beyond its interval, or rules out any difference larger than the equivalence band.</summary>
    NotSupported,
    /// <summary>Too few seeds, or an interval that includes no difference but is wider than the band.</summary>
    Undecided,
}

/// <summary>The rules that turn intervals and counts into verdicts, set before the fair study's seed runs had finished (the three-pair minimum after its first two seeds).</summary>
public static class ClaimRules
{
    /// <summary>Significance level of the count test.</summary>
    public const double Alpha = 0.05;
    /// <summary>Accuracy differences within ± this many points count as no difference.</summary>
    public const double AccuracyBand = 0.2;
    /// <summary>Time ratios within [1 / this, this] count as no difference.</summary>
    public const double RatioBand = 1.1;
    /// <summary>Fewest pairs an interval needs to decide anything.</summary>
    public const int MinPairs = 3;

    /// <summary>The verdict's word in tables.</summary>
    public static string Text(this Verdict verdict) => verdict switch
    {
        Verdict.Supported => "**supported**",
        Verdict.NotSupported => "not supported",
        _ => "undecided",
    };

    /// <summary>
    /// The verdict on a paired difference whose claimed direction is <paramref name="claimedSign"/> (+1: FOP's value is
    /// larger; -1: smaller) against 0: supported when the interval excludes 0 on that side, not supported when it excludes 0
    /// on the other side or lies within ±<paramref name="band"/>, undecided otherwise (and below <see cref="MinPairs"/> pairs).
    /// </summary>
    public static Verdict FromInterval(ConfidenceInterval difference, int claimedSign, double band)
    {
        // Two pairs can agree exactly by chance (epochs to a target are whole numbers), giving a zero-width interval.
        if (difference.Count < MinPairs || double.IsNaN(difference.HalfWidth)) return Verdict.Undecided;
        if (claimedSign > 0 ? difference.Lower > 0 : difference.Upper < 0) return Verdict.Supported;
        if (claimedSign > 0 ? difference.Upper < 0 : difference.Lower > 0) return Verdict.NotSupported;
        return difference.Lower >= -band && difference.Upper <= band ? Verdict.NotSupported : Verdict.Undecided;
    }

    /// <summary>
    /// The verdict on "FOP reaches the target where the comparator does not" from how many seeds of each reached it: not
    /// supported when FOP never reaches it or the comparator reaches it at least as often, supported when FOP's count is
    /// higher by Fisher's exact test at <see cref="Alpha"/>, undecided otherwise.
    /// </summary>
    public static Verdict FromCounts(int fop, int fopRuns, int other, int otherRuns)
    {
        if (fopRuns == 0 || otherRuns == 0) return Verdict.Undecided;
        if (fop == 0 || (double)other / otherRuns >= (double)fop / fopRuns) return Verdict.NotSupported;
        return FisherExact.TwoSided(fop, fopRuns, other, otherRuns) < Alpha ? Verdict.Supported : Verdict.Undecided;
    }
}
