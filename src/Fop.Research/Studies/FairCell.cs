namespace Fop.Research.Studies;

/// <summary>Which of the paper's claims a fair-study cell tests.</summary>
public enum FairClaim
{
    /// <summary>Large-batch speed-up: FOP's time to a target against a comparator's.</summary>
    Speed,
    /// <summary>Reaching a target where others cannot.</summary>
    Reach,
    /// <summary>Best validation accuracy at large batch.</summary>
    Accuracy,
    /// <summary>Tolerance of small damping (FOP loses less than KFAC as damping shrinks).</summary>
    Damping,
    /// <summary>Lower top-1 error on long-tailed data.</summary>
    LongTailed,
}

/// <summary>How many seed runs of one cell reached a target, of how many.</summary>
public readonly record struct ReachCount(int Reached, int Runs);

/// <summary>One verdict of the fair study: the claim it tests, where (config, comparator) and what the rules say.</summary>
public abstract record FairCell(FairClaim Claim, string Config, string Comparator, Verdict Verdict);

/// <summary>FOP's time to <paramref name="Target"/> over the comparator's (log ratio over the pairs where both reached it).</summary>
public sealed record SpeedCell(string Config, string Comparator, double Target, string TargetLabel, ReachCount Fop, ReachCount Other, ConfidenceInterval LogTimeRatio, Verdict Verdict)
    : FairCell(FairClaim.Speed, Config, Comparator, Verdict);

/// <summary>Seeds of FOP and of the comparator that reached <paramref name="Target"/>, with Fisher's exact two-sided p-value.</summary>
public sealed record ReachCell(string Config, string Comparator, double Target, string TargetLabel, ReachCount Fop, ReachCount Other, double P, Verdict Verdict)
    : FairCell(FairClaim.Reach, Config, Comparator, Verdict);

/// <summary>FOP minus the comparator in points, paired by seed: best validation accuracy (decides) and final test accuracy (reported).</summary>
public sealed record AccuracyCell(string Config, string Comparator, ConfidenceInterval Validation, ConfidenceInterval Test, Verdict Verdict)
    : FairCell(FairClaim.Accuracy, Config, Comparator, Verdict);

/// <summary>(FOP - KFAC at the smallest damping) - (FOP - KFAC at the reference damping) in best validation accuracy points, paired by seed.</summary>
public sealed record DampingCell(string Config, double Smallest, double Reference, ConfidenceInterval Interaction, Verdict Verdict)
    : FairCell(FairClaim.Damping, Config, "KFAC", Verdict);

/// <summary>Top-1 error (%) of FOP and of the comparator on the balanced test set, and FOP minus the comparator paired by seed.</summary>
public sealed record LongTailedCell(string Config, string Comparator, ConfidenceInterval FopError, ConfidenceInterval OtherError, ConfidenceInterval Difference, Verdict Verdict)
    : FairCell(FairClaim.LongTailed, Config, Comparator, Verdict);
