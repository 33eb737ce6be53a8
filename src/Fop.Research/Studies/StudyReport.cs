using Fop.Research.Io;
using System.Globalization;
using System.Text;
using Fop.Research.Training;

namespace Fop.Research.Studies;

/// <summary>Writes a study's results.csv, curves.csv and table.md (figures are drawn by Fop.Research.Plots from the same files).</summary>
public static class StudyReport
{
    /// <summary>Writes results.csv (one row per run) to <paramref name="dir"/>.</summary>
    public static void WriteResults(string dir, IEnumerable<RunOutcome> runs)
    {
        Directory.CreateDirectory(dir);
        AtomicFile.WriteAllLines(Path.Combine(dir, "results.csv"), runs.Select(r => r.ToCsv()).Prepend(RunOutcome.CsvHeader));
    }

    /// <summary>Writes curves.csv: every epoch of every listed run (run, epoch, train seconds, test accuracy, train and test loss), so figures can be redrawn from committed files.</summary>
    public static void WriteCurves(string dir, StudyRunner runner, IEnumerable<RunOutcome> runs)
    {
        var lines = new List<string> { "run,optimizer,batch,epoch,train_seconds,test_accuracy,train_loss,test_loss" };
        foreach (var r in runs.DistinctBy(r => r.Summary.Name))
        {
            var runDir = runner.RunDir(r.Summary.Name);
            if (!File.Exists(Path.Combine(runDir, "metrics.csv"))) continue;
            foreach (var m in EpochMetrics.Read(runDir))
                lines.Add(string.Join(",", r.Summary.Name, r.Summary.Optimizer, r.Summary.BatchSize.ToString(CultureInfo.InvariantCulture),
                    m.Epoch.ToString(CultureInfo.InvariantCulture), m.TrainSeconds.ToString("F3", CultureInfo.InvariantCulture), m.TestAccuracy.ToString("g6", CultureInfo.InvariantCulture),
                    m.TrainLoss.ToString("g6", CultureInfo.InvariantCulture), m.TestLoss.ToString("g6", CultureInfo.InvariantCulture)));
        }
        AtomicFile.WriteAllLines(Path.Combine(dir, "curves.csv"), lines);
    }

    /// <summary>The scaling study's table.md: the paper's Table 1 layout (epochs / seconds to target per optimizer and batch).</summary>
    public static string ScalingTable(ScalingResults results, string command, string machine, TimeSpan wall)
    {
        var o = results.Options;
        var sb = new StringBuilder();
        sb.AppendLine(double.IsNaN(results.Target)
            ? $"# {o.Name}: epochs / training seconds to target (target not set yet: the study is still tuning)"
            : $"# {o.Name}: epochs / training seconds to {results.Target:P2} test accuracy");
        sb.AppendLine();
        sb.AppendLine($"Produced by `{command}` on {machine}; wall time of the runs in this invocation {wall:hh\\:mm\\:ss} (runs read back from an earlier invocation cost nothing here; their own seconds are in results.csv).");
        sb.AppendLine();
        sb.AppendLine($"Target = best test accuracy of SGD at batch {o.BaseBatch} within {o.Epochs} epochs, minus {o.TargetMargin * 100:g3} point(s). " +
                      "Cells: mean epochs / mean training seconds (evaluation excluded) over the seeds that reached the target, then (seeds reached / seeds run) " +
                      $"and the speed-up in seconds against SGD at batch {o.BaseBatch}; \"-\" where the best point of the learning-rate sweep never reached it (best accuracy in brackets).");
        sb.AppendLine();
        sb.AppendLine("## MLP 784-512-256-10");
        sb.AppendLine();
        sb.AppendLine("| batch | " + string.Join(" | ", o.Optimizers) + " |");
        sb.AppendLine("|---|" + string.Concat(o.Optimizers.Select(_ => "---|")));
        double? reference = Cell(results, "sgd", o.BaseBatch).Seconds;
        foreach (int batch in o.Batches)
        {
            var cells = o.Optimizers.Select(opt =>
            {
                var c = Cell(results, opt, batch);
                if (c.Runs == 0) return "not run yet";
                if (c.Seconds is not double sec) return $"- ({c.BestAccuracy:P1})";
                var speed = reference is double r ? $", x{r / sec:F2}" : "";
                return $"{c.Epochs:F1} / {sec:F1} s ({c.Reached}/{c.Runs}{speed})";
            });
            sb.AppendLine($"| {batch} | " + string.Join(" | ", cells) + " |");
        }
        sb.AppendLine();
        sb.AppendLine("Chosen settings (base learning rate at the base batch; at batch b the sweep tried the linearly scaled rate times " +
                      string.Join(", ", o.LrMultipliers.Select(m => "x" + ScalingStudy.F(m))) + "):");
        sb.AppendLine();
        sb.AppendLine("| optimizer | base lr | damping | " + string.Join(" | ", o.Batches.Select(b => $"lr @ {b}")) + " |");
        sb.AppendLine("|---|---|---|" + string.Concat(o.Batches.Select(_ => "---|")));
        foreach (var opt in o.Optimizers.Where(results.Tuned.ContainsKey))
        {
            var (lr, damping) = results.Tuned[opt];
            var lrs = o.Batches.Select(b => results.Best.FirstOrDefault(r => r.Summary.Optimizer == opt && r.Summary.BatchSize == b && r.Summary.Model == "mlp") is { } r ? ScalingStudy.F(r.Summary.Lr) : "");
            sb.AppendLine($"| {opt} | {ScalingStudy.F(lr)} | {(damping is double d ? ScalingStudy.F(d) : "")} | " + string.Join(" | ", lrs) + " |");
        }
        sb.AppendLine();
        sb.AppendLine("KFAC/FOP curvature and inverse interval per batch: " + string.Join(", ", o.Batches.Select(b => $"{b}: {o.IntervalFor(b)}")) + " steps.");
        var cnn = results.Runs.Where(r => r.Stage == "cnn").ToList();
        if (cnn.Count > 0)
        {
            sb.AppendLine();
            sb.AppendLine("## Small CNN (one seed, settings from experiments/configs/fashion-mnist/smallcnn-*.json)");
            sb.AppendLine();
            sb.AppendLine("| batch | optimizer | lr | epochs / seconds to target | best accuracy | epochs run | ms/step | note |");
            sb.AppendLine("|---|---|---|---|---|---|---|---|");
            foreach (var r in cnn)
                sb.AppendLine($"| {r.Summary.BatchSize} | {r.Summary.Optimizer} | {ScalingStudy.F(r.Summary.Lr)} | " +
                              (r.Reached ? $"{r.EpochsToTarget} / {r.SecondsToTarget:F1} s" : "-") +
                              $" | {r.Summary.BestTestAccuracy:P2} | {r.Summary.EpochsRun} | {r.Summary.MedianStepMs:F0} | {r.Note}{(r.Summary.Diverged is null ? "" : $" stopped early: {r.Summary.Diverged}")} |");
        }
        return sb.ToString();
    }

    /// <summary>Mean epochs and seconds to target over the seeds of the reported point at (optimizer, batch), MLP runs only.</summary>
    public static (double? Epochs, double? Seconds, int Reached, int Runs, double BestAccuracy) Cell(ScalingResults results, string opt, int batch)
    {
        var chosen = results.Best.FirstOrDefault(r => r.Summary.Optimizer == opt && r.Summary.BatchSize == batch);
        if (chosen is null) return (null, null, 0, 0, double.NaN);
        var seeds = results.Runs.Where(r => r.Stage is "scaling" or "seed" && r.Summary.Model == "mlp" && r.Summary.Optimizer == opt && r.Summary.BatchSize == batch
                                            && Math.Abs(r.Summary.Lr - chosen.Summary.Lr) <= 1e-12 * Math.Abs(chosen.Summary.Lr))
            .DistinctBy(r => r.Summary.Name).ToList();
        var reached = seeds.Where(r => r.Reached).ToList();
        if (!chosen.Reached || reached.Count == 0) return (null, null, 0, seeds.Count, chosen.Summary.BestTestAccuracy);
        return (reached.Average(r => (double)r.EpochsToTarget!.Value), reached.Average(r => r.SecondsToTarget!.Value), reached.Count, seeds.Count, chosen.Summary.BestTestAccuracy);
    }
}
