using System.Globalization;

namespace Fop.Research.Training;

/// <summary>One validation evaluation: steps done when it was made, the epoch in progress (1-based), training seconds so far, loss and accuracy.</summary>
public sealed record Evaluation(long Step, int Epoch, double TrainSeconds, double ValLoss, double ValAccuracy);

/// <summary>
/// evals.csv: the validation evaluations made while eval_every_step_above is in force, after every step and at epoch ends,
/// from the evaluation that switched it on to the one that switched it off (eval_every_step_until), so the crossing of a
/// target near that range is known to the step rather than to the epoch.
/// </summary>
public static class EvalLog
{
    /// <summary>CSV header.</summary>
    public const string Header = "step,epoch,train_seconds,val_loss,val_accuracy";

    /// <summary>The cells of <paramref name="e"/>'s row.</summary>
    public static string[] Row(Evaluation e) => [LogCells.Int(e.Step), LogCells.Int(e.Epoch), LogCells.Fixed(e.TrainSeconds), LogCells.G(e.ValLoss), LogCells.G(e.ValAccuracy)];

    /// <summary>The rows of a run folder's evals.csv (empty when the run has none); a damaged row is an error naming the file and line.</summary>
    public static IReadOnlyList<Evaluation> Read(string runDir)
    {
        var path = Path.Combine(runDir, "evals.csv");
        if (!File.Exists(path)) return [];
        var ci = CultureInfo.InvariantCulture;
        var rows = new List<Evaluation>();
        foreach (var r in CsvLog.CompleteRows(path, Header.Split(',').Length))
        {
            try { rows.Add(new Evaluation(long.Parse(r[0], ci), int.Parse(r[1], ci), double.Parse(r[2], ci), double.Parse(r[3], ci), double.Parse(r[4], ci))); }
            catch (FormatException e) { throw new InvalidDataException($"{path}: row '{string.Join(",", r)}' cannot be read ({e.Message}).", e); }
        }
        return rows;
    }
}
