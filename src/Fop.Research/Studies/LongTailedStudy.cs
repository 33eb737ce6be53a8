using System.Globalization;
using System.Text;
using Fop.Research.Training;

namespace Fop.Research.Studies;

/// <summary>What the long-tailed study runs (the paper's Table 4 on long-tailed Fashion-MNIST; balanced test set).</summary>
public sealed record LongTailedStudyOptions
{
    /// <summary>Study name (folder under runs/studies and experiments/results).</summary>
    public string Name { get; init; } = "fashion-mnist-long-tailed";
    /// <summary>Settings every run shares (data set, data folder, subsets, device).</summary>
    public IReadOnlyList<string> Common { get; init; } = ["dataset=fashion-mnist", "model=smallcnn"];
    /// <summary>Imbalance factors (largest class / smallest class).</summary>
    public IReadOnlyList<double> ImbalanceFactors { get; init; } = [100, 50];
    /// <summary>Optimizers with their settings (the paper fixes KFAC/FOP damping at 1e-3).</summary>
    public IReadOnlyDictionary<string, string[]> Optimizers { get; init; } = new Dictionary<string, string[]>
    {
        ["sgd"] = ["lr=0.05"],
        ["kfac"] = ["lr=0.003", "kfac.damping=0.001", "kfac.kl_clip=0.001"],
        ["fop"] = ["lr=0.003", "kfac.damping=0.001", "kfac.kl_clip=0.001"],
    };
    /// <summary>Seeds per cell.</summary>
    public int Seeds { get; init; } = 3;
    /// <summary>Epoch budget.</summary>
    public int Epochs { get; init; } = 15;
    /// <summary>Batch size.</summary>
    public int Batch { get; init; } = 256;
}

/// <summary>The long-tailed study: every optimizer on every imbalance factor with several seeds; top-1 error after the last epoch.</summary>
public static class LongTailedStudy
{
    /// <summary>Runs (or reads back) every run and returns their outcomes; <paramref name="progress"/> gets the outcomes so far after every run.</summary>
    public static IReadOnlyList<RunOutcome> Run(StudyRunner runner, LongTailedStudyOptions o, Action<IReadOnlyList<RunOutcome>>? progress = null)
    {
        var outcomes = new List<RunOutcome>();
        foreach (var factor in o.ImbalanceFactors)
            foreach (var (opt, settings) in o.Optimizers)
                for (int seed = 0; seed < o.Seeds; seed++)
                {
                    var name = $"{opt}-if{ScalingStudy.F(factor)}-s{seed}";
                    var config = ConfigFile.Load(null, o.Common.Concat(settings).Concat([
                        $"name={name}", $"optimizer={opt}", $"imbalance_factor={ScalingStudy.F(factor)}", $"batch_size={o.Batch}", $"epochs={o.Epochs}",
                        $"seed={seed}", "schedule.kind=cosine"]));
                    outcomes.Add(new RunOutcome("long-tailed", runner.Run(config), null, null, null, $"imbalance {ScalingStudy.F(factor)}"));
                    progress?.Invoke(outcomes.ToList());
                }
        return outcomes;
    }

    /// <summary>table.md in the layout of the paper's Table 4: final top-1 error (%) mean ± std over seeds.</summary>
    public static string Table(LongTailedStudyOptions o, IReadOnlyList<RunOutcome> runs, string command, string machine, TimeSpan wall)
    {
        var sb = new StringBuilder();
        sb.AppendLine($"# {o.Name}: top-1 test error (%) after {o.Epochs} epochs, mean ± std over {o.Seeds} seeds");
        sb.AppendLine();
        sb.AppendLine($"Produced by `{command}` on {machine}; wall time of the runs in this invocation {wall:hh\\:mm\\:ss}. " +
                      $"Small CNN, batch {o.Batch}, cosine schedule; long-tailed training set (class sizes 6000 x IF^(-c/9)), balanced 10,000-image test set.");
        sb.AppendLine();
        sb.AppendLine("| | " + string.Join(" | ", o.ImbalanceFactors.Select(f => $"FMNIST-LT IF{ScalingStudy.F(f)}")) + " |");
        sb.AppendLine("|---|" + string.Concat(o.ImbalanceFactors.Select(_ => "---|")));
        foreach (var (opt, settings) in o.Optimizers)
        {
            var cells = o.ImbalanceFactors.Select(f =>
            {
                var errors = runs.Where(r => r.Summary.Optimizer == opt && r.Note == $"imbalance {ScalingStudy.F(f)}").Select(r => 100 * (1 - r.Summary.FinalTestAccuracy)).ToList();
                if (errors.Count == 0) return "not run yet";
                double mean = errors.Average();
                double std = errors.Count > 1 ? Math.Sqrt(errors.Sum(e => (e - mean) * (e - mean)) / (errors.Count - 1)) : 0;
                return string.Create(CultureInfo.InvariantCulture, $"{mean:F2} ± {std:F2}") + (errors.Count < o.Seeds ? $" ({errors.Count}/{o.Seeds} seeds)" : "");
            });
            sb.AppendLine($"| {(opt == "sgd" ? "baseline (SGD)" : opt.ToUpperInvariant())} ({string.Join(", ", settings)}) | " + string.Join(" | ", cells) + " |");
        }
        return sb.ToString();
    }
}
