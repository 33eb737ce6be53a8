using System.Globalization;
using Fop.Research.Training;

namespace Fop.Research.Studies;

/// <summary>
/// What the large-batch scaling study runs. The defaults are the Fashion-MNIST study of the paper's Table 1, sized to
/// finish within about two hours on a 2-core CPU; tests shrink them.
/// </summary>
public sealed record ScalingStudyOptions
{
    /// <summary>Study name (folder under runs/studies and experiments/results).</summary>
    public string Name { get; init; } = "fashion-mnist-scaling";
    /// <summary>Settings every run shares (data set, data folder, subsets, device, threads).</summary>
    public IReadOnlyList<string> Common { get; init; } = ["dataset=fashion-mnist"];
    /// <summary>Optimizers compared.</summary>
    public IReadOnlyList<string> Optimizers { get; init; } = ["sgd", "adamw", "kfac", "fop"];
    /// <summary>Batch at which base learning rates (and KFAC/FOP damping) are tuned, and the target is set.</summary>
    public int BaseBatch { get; init; } = 512;
    /// <summary>Batch sizes of the MLP grid (the largest is the whole training set).</summary>
    public IReadOnlyList<int> Batches { get; init; } = [512, 2048, 8192, 30000, 60000];
    /// <summary>Epoch budget of every MLP run.</summary>
    public int Epochs { get; init; } = 100;
    /// <summary>Epoch budget of the base-batch tuning runs (ranked by best test accuracy).</summary>
    public int TuneEpochs { get; init; } = 10;
    /// <summary>Base learning rates tried at <see cref="BaseBatch"/>, per optimizer.</summary>
    public IReadOnlyDictionary<string, double[]> BaseLrs { get; init; } = new Dictionary<string, double[]>
    {
        ["sgd"] = [0.025, 0.05, 0.1], ["adamw"] = [0.0005, 0.001, 0.002], ["kfac"] = [0.003, 0.01, 0.03], ["fop"] = [0.003, 0.01, 0.03],
    };
    /// <summary>Damping values for KFAC and FOP; the middle one is used while the learning rate is tuned, the others are then tried at the best rate.</summary>
    public IReadOnlyList<double> Dampings { get; init; } = [0.003, 0.01, 0.03];
    /// <summary>Multipliers of the linearly scaled learning rate tried at each larger batch.</summary>
    public IReadOnlyList<double> LrMultipliers { get; init; } = [0.5, 1, 2];
    /// <summary>Seeds of the best point at each batch (the first is the sweep's seed).</summary>
    public int Seeds { get; init; } = 3;
    /// <summary>The target is SGD's best accuracy at the base batch minus this.</summary>
    public double TargetMargin { get; init; } = 0.01;
    /// <summary>KFAC/FOP curvature interval at the base batch; it shrinks in proportion as the batch grows.</summary>
    public int BaseCurvatureInterval { get; init; } = 40;
    /// <summary>The interval never goes below this (the paper's rule).</summary>
    public int MinCurvatureInterval { get; init; } = 5;
    /// <summary>KL clipping kappa of KFAC and FOP (without it, linearly scaled rates diverge at large batches).</summary>
    public double KlClip { get; init; } = 0.01;
    /// <summary>A run whose best test accuracy is below this after a tenth of its budget is abandoned as stalled (chance is 0.1).</summary>
    public double AbandonBelow { get; init; } = 0.5;
    /// <summary>Warm-up epochs of the cosine schedule in budget runs.</summary>
    public int WarmupEpochs { get; init; } = 5;
    /// <summary>Largest chunk through forward/backward at once (memory bound at the full batch).</summary>
    public int MicroBatch { get; init; } = 30000;
    /// <summary>Small-CNN runs (one committed config per optimizer and batch), after the MLP grid; empty to skip.</summary>
    public IReadOnlyList<int> CnnBatches { get; init; } = [4096, 60000];
    /// <summary>Folder of the small-CNN configs, named smallcnn-{optimizer}-b{batch}.json.</summary>
    public string CnnConfigDir { get; init; } = "experiments/configs/fashion-mnist";

    /// <summary>Curvature (and inverse) interval at batch <paramref name="batch"/>: base interval x base batch / batch, at least the minimum.</summary>
    public int IntervalFor(int batch) =>
        Math.Max(MinCurvatureInterval, (int)Math.Round(BaseCurvatureInterval * (double)BaseBatch / batch, MidpointRounding.AwayFromZero));
}

/// <summary>
/// The scaling study: tune each optimizer at the base batch, set the target from SGD there, then at every batch sweep
/// x0.5/x1/x2 of the linearly scaled rate, keep the best point and re-run it with more seeds. Every decision is a pure
/// function of finished runs, so running the study again skips what is done and resumes what was interrupted.
/// </summary>
public static class ScalingStudy
{
    /// <summary>
    /// Runs (or reads back) every run of the study and returns their outcomes in order; <paramref name="progress"/> gets the
    /// results so far after every run (the target is NaN until it is known), so reports stay current during a long study.
    /// </summary>
    public static ScalingResults Run(StudyRunner runner, ScalingStudyOptions o, Action<ScalingResults>? progress = null)
    {
        var outcomes = new List<RunOutcome>();
        var tuned = new Dictionary<string, (double Lr, double? Damping)>();
        var best_ = new List<RunOutcome>();
        double target = double.NaN;
        RunOutcome Record(string stage, RunConfig config, double? runTarget, string note)
        {
            var summary = runner.Run(config);
            var (e, s) = RunOutcome.FirstCrossing(runner.RunDir(config.Name), runTarget);
            var outcome = new RunOutcome(stage, summary, runTarget, e, s, note);
            outcomes.Add(outcome);
            progress?.Invoke(new ScalingResults(o, target, new Dictionary<string, (double, double?)>(tuned), outcomes.ToList(), best_.ToList()));
            return outcome;
        }

        // 1. Tune at the base batch (learning rate, then damping for KFAC/FOP), short budget, no target.
        foreach (var opt in o.Optimizers)
        {
            bool curvature = IsCurvature(opt);
            double? midDamping = curvature ? o.Dampings[o.Dampings.Count / 2] : null;
            var best = o.BaseLrs[opt]
                .Select(lr => Record("tune", Mlp(o, opt, o.BaseBatch, lr, midDamping, 0, o.TuneEpochs, $"tune-{opt}-lr{F(lr)}", stopAtTarget: false), null, Note(o, opt, o.BaseBatch, midDamping)))
                .Select(r => (r.Summary.Lr, Damping: midDamping, Acc: r.Summary.BestTestAccuracy)).ToList();
            if (curvature)
            {
                double lr = Best(best).Lr;
                foreach (var d in o.Dampings.Where(d => d != midDamping))
                {
                    var r = Record("tune", Mlp(o, opt, o.BaseBatch, lr, d, 0, o.TuneEpochs, $"tune-{opt}-lr{F(lr)}-d{F(d)}", stopAtTarget: false), null, Note(o, opt, o.BaseBatch, d));
                    best.Add((lr, d, r.Summary.BestTestAccuracy));
                }
            }
            var winner = Best(best);
            tuned[opt] = (winner.Lr, winner.Damping);
        }

        // 2. The target: SGD at the base batch with the full budget (the one run that never stops early).
        if (!tuned.TryGetValue("sgd", out var sgd)) throw new ArgumentException("The scaling study needs sgd among its optimizers: SGD at the base batch sets the target.");
        var targetRun = runner.Run(Mlp(o, "sgd", o.BaseBatch, sgd.Lr, null, 0, o.Epochs, $"sgd-b{o.BaseBatch}-lr{F(sgd.Lr)}-s0", stopAtTarget: false, mayAbandon: false));
        // A margin as large as the accuracy itself leaves a target every run reaches (kept positive so configs accept it).
        target = Math.Max(1e-4, Math.Round(targetRun.BestTestAccuracy - o.TargetMargin, 4));

        // 3. Every batch: a learning-rate sweep around the linearly scaled rate, then the best point with more seeds.
        foreach (int batch in o.Batches)
            foreach (var opt in o.Optimizers)
            {
                var (baseLr, damping) = tuned[opt];
                double centre = baseLr * batch / o.BaseBatch;
                var multipliers = batch == o.BaseBatch ? new[] { 1.0 } : o.LrMultipliers.ToArray();
                var points = multipliers.Select(m => Record("scaling",
                    Mlp(o, opt, batch, centre * m, damping, 0, o.Epochs, $"{opt}-b{batch}-lr{F(centre * m)}-s0", stopAtTarget: !(opt == "sgd" && batch == o.BaseBatch), mayAbandon: !(opt == "sgd" && batch == o.BaseBatch), target: target),
                    target, Note(o, opt, batch, damping) + $" x{F(m)}")).ToList();
                var chosen = points.OrderByDescending(p => p.Reached).ThenBy(p => p.EpochsToTarget ?? int.MaxValue)
                    .ThenBy(p => p.SecondsToTarget ?? double.MaxValue).ThenByDescending(p => p.Summary.BestTestAccuracy).First();
                best_.Add(chosen);
                // Seeds only where the target was reached: a run that cannot reach it burns the whole budget to confirm "-".
                if (!chosen.Reached) continue;
                for (int seed = 1; seed < o.Seeds; seed++)
                    Record("seed", Mlp(o, opt, batch, chosen.Summary.Lr, damping, seed, o.Epochs, $"{opt}-b{batch}-lr{F(chosen.Summary.Lr)}-s{seed}", stopAtTarget: true, target: target),
                        target, Note(o, opt, batch, damping));
            }

        // 4. The small CNN at its batches, from its committed configs, against the same target.
        foreach (int batch in o.CnnBatches)
            foreach (var opt in o.Optimizers)
            {
                var path = Path.Combine(o.CnnConfigDir, $"smallcnn-{opt}-b{batch}.json");
                if (!File.Exists(path)) throw new FileNotFoundException($"Scaling study: no small-CNN config {path}.", path);
                var config = ConfigFile.Load(path, o.Common.Concat([$"name=cnn-{opt}-b{batch}-s0", $"target_accuracy={F(target)}", "stop_at_target=true",
                    $"abandon_below={F(o.AbandonBelow)}", "abandon_after_epochs=3"]));
                Record("cnn", config, target, IsCurvature(opt) ? $"damping {F(config.Kfac.Damping.At(0))} interval {config.Kfac.CurvatureInterval}" : "");
            }
        return new ScalingResults(o, target, tuned, outcomes, best_);
    }

    static bool IsCurvature(string opt) => opt is "kfac" or "fop";

    static (double Lr, double? Damping, double Acc) Best(List<(double Lr, double? Damping, double Acc)> points) =>
        points.OrderByDescending(p => p.Acc).ThenBy(p => p.Lr).First();

    static string Note(ScalingStudyOptions o, string opt, int batch, double? damping) =>
        IsCurvature(opt) ? $"damping {F(damping!.Value)} interval {o.IntervalFor(batch)}" : "";

    /// <summary>Compact invariant number for names and notes.</summary>
    internal static string F(double v) => v.ToString("g4", CultureInfo.InvariantCulture);

    static RunConfig Mlp(ScalingStudyOptions o, string opt, int batch, double lr, double? damping, long seed, int epochs, string name, bool stopAtTarget, bool mayAbandon = true, double? target = null)
    {
        int interval = o.IntervalFor(batch);
        var sets = new List<string>(o.Common)
        {
            $"name={name}", "model=mlp", $"optimizer={opt}", $"lr={F(lr)}", $"batch_size={batch}", $"micro_batch_size={(batch > o.MicroBatch ? o.MicroBatch : 0)}",
            $"epochs={epochs}", $"seed={seed}", "schedule.kind=cosine", $"schedule.warmup_epochs={Math.Min(o.WarmupEpochs, Math.Max(0, epochs / 10))}",
            $"stop_at_target={(stopAtTarget ? "true" : "false")}", "fop.diagnostics_interval=10",
            $"abandon_after_epochs={Math.Max(1, epochs / 10)}",
        };
        if (mayAbandon) sets.Add($"abandon_below={F(o.AbandonBelow)}");
        // stop_at_target needs the target itself; without it every run would burn its whole budget.
        if (target is double t) sets.Add($"target_accuracy={F(t)}");
        if (damping is double d)
            sets.AddRange([$"kfac.damping={F(d)}", $"kfac.curvature_interval={interval}", $"kfac.inverse_interval={interval}", $"kfac.kl_clip={F(o.KlClip)}"]);
        if (opt == "adamw") sets.Add("adamw.weight_decay=0.01");
        return ConfigFile.Load(null, sets);
    }
}

/// <summary>What the scaling study found.</summary>
/// <param name="Options">The study's options.</param>
/// <param name="Target">Target test accuracy (0-1).</param>
/// <param name="Tuned">Per optimizer, the base learning rate (and damping) chosen at the base batch.</param>
/// <param name="Runs">Every run, in order.</param>
/// <param name="Best">Per batch and optimizer, the sweep point reported (seed 0).</param>
public sealed record ScalingResults(ScalingStudyOptions Options, double Target, IReadOnlyDictionary<string, (double Lr, double? Damping)> Tuned,
    IReadOnlyList<RunOutcome> Runs, IReadOnlyList<RunOutcome> Best);
