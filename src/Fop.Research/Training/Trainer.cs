using System.Diagnostics;
using System.Text.Json;
using Fop.Research.Curvature;
using Fop.Research.Data;
using Fop.Research.Io;
using Fop.Research.Models;
using Fop.Research.Optim;
using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Fop.Research.Training;

/// <summary>
/// Runs a <see cref="RunConfig"/>: batches in a seed-determined order, one optimizer step each, evaluation every epoch,
/// time-to-target, a run folder (config.json, metrics.csv, steps.csv, layers.csv, checkpoint.bin, summary.json), and
/// resumption from the last checkpoint with the same trajectory as an uninterrupted run.
/// </summary>
public sealed class Trainer
{
    /// <summary>Consecutive refused steps after which the run stops: the model has diverged.</summary>
    public const int MaxConsecutiveSkips = 20;

    readonly RunConfig config;
    readonly RunData data;

    /// <summary>Creates a trainer for a validated config and its data.</summary>
    public Trainer(RunConfig config, RunData data)
    {
        this.config = config.Validate();
        this.data = data;
    }

    /// <summary>Called after every step.</summary>
    public Action<TrainingProgress>? OnProgress { get; init; }
    /// <summary>Called for messages worth showing (skipped steps, warnings, resumption).</summary>
    public Action<string>? OnMessage { get; init; }
    /// <summary>For tests: stop (as if killed) after this many steps of this process, right after a checkpoint write.</summary>
    public long? StopAfterSteps { get; init; }
    /// <summary>The model after <see cref="Run"/> (for notebooks and tests).</summary>
    public Module<Tensor, Tensor>? Model { get; private set; }

    sealed class State
    {
        public int Epoch { get; set; }
        public int StepInEpoch { get; set; }
        public long GlobalStep { get; set; }
        public double TrainSeconds { get; set; }
        public double EvalSeconds { get; set; }
        public double EpochLossSum { get; set; }
        public long EpochCorrect { get; set; }
        public long EpochExamples { get; set; }
        public int SkippedSteps { get; set; }
        public double PlateauFactor { get; set; } = 1;
        public double PlateauBest { get; set; } = double.NegativeInfinity;
        public int PlateauBad { get; set; }
        public List<double> StepMs { get; set; } = new();
        public TimeToTarget? TimeToTarget { get; set; }
        public double? LastTestAccuracy { get; set; }
        public double BestTestAccuracy { get; set; }
        public List<string> Warnings { get; set; } = new();
        public string? Diverged { get; set; }
    }

    static JsonSerializerOptions StateJson => RunJson.Options;

    /// <summary>Refuses a resume whose config differs from the run's config.json in a key that changes the trajectory so far.</summary>
    void CheckResumable(string configPath)
    {
        if (!File.Exists(configPath))
            throw new InvalidDataException($"{configPath}: missing, so the checkpoint beside it cannot be checked against the config asked for. Restore it, or start a new run from the checkpoint with --fork NAME.");
        RunConfig old;
        try { old = ConfigFile.Load(configPath); }
        catch (Exception e) when (e is ArgumentException or IOException or UnauthorizedAccessException)
        {
            throw new InvalidDataException($"{configPath}: the run's own config cannot be read back ({e.Message}).", e);
        }
        var conflicts = ConfigDifferences.TrajectoryChanging(old, config);
        if (conflicts.Count > 0)
            throw new ResumeConflictException($"{configPath}: resuming with a different config would mix two trajectories in one run folder. " +
                $"Differing keys (run's -> requested): {string.Join("; ", conflicts)}. Resume without these changes, or start a new run " +
                "from this checkpoint with --fork NAME.");
        foreach (var d in ConfigDifferences.Between(old, config))
            OnMessage?.Invoke($"resuming with {d}" + (d.Key == "epochs" && config.Schedule.Kind is "cosine" or "exponential" ? " (the schedule is stretched to the new budget from here on)" : ""));
    }

    /// <summary>Loads a checkpoint into the model and optimizer; any mismatch is an error naming the file.</summary>
    static State Restore(string checkpointPath, Module<Tensor, Tensor> model, ModelOptimizer optimizer, Device device)
    {
        var (json, modelState, optimizerState) = Checkpoint.Load(checkpointPath);
        try
        {
            var state = JsonSerializer.Deserialize<State>(json, StateJson) ?? throw new InvalidDataException("empty trainer state");
            model.load_state_dict(modelState.ToDictionary(kv => kv.Key, kv => kv.Value.to(device)));
            optimizer.LoadStateDict(optimizerState.ToDictionary(kv => kv.Key, kv => kv.Value.to(device)));
            return state;
        }
        catch (Exception e) when (e is JsonException or ArgumentException or KeyNotFoundException or InvalidOperationException or System.Runtime.InteropServices.ExternalException)
        {
            throw new InvalidDataException($"{checkpointPath}: does not fit this run's model and optimizer ({e.Message}).", e);
        }
        finally
        {
            foreach (var t in modelState.Values.Concat(optimizerState.Values)) t.Dispose();
        }
    }

    /// <summary>
    /// Trains in <paramref name="runDir"/> (created); with <paramref name="resume"/>, continues from its checkpoint if there is one.
    /// A resume whose config would change the trajectory already followed is refused (<see cref="ResumeConflictException"/>).
    /// </summary>
    public RunSummary Run(string runDir, bool resume = false)
    {
        var checkpointPath = Path.Combine(runDir, "checkpoint.bin");
        var configPath = Path.Combine(runDir, "config.json");
        if (Directory.Exists(checkpointPath)) throw new InvalidDataException($"{checkpointPath}: is a directory, expected the run's checkpoint file.");
        bool resuming = resume && File.Exists(checkpointPath);
        if (resuming) CheckResumable(configPath);
        // A process killed while writing leaves its temporary file behind; the file it was replacing is intact.
        if (Directory.Exists(runDir))
            foreach (var stale in Directory.GetFiles(runDir, ".*.tmp*")) File.Delete(stale);
        foreach (var w in config.Warnings()) OnMessage?.Invoke($"warning: {w}");
        AtomicFile.WriteAllText(configPath, ConfigFile.ToJson(config));
        if (config.Threads > 0) torch.set_num_threads(config.Threads);
        var device = DeviceChoice.Resolve(config.Device);

        torch.manual_seed(config.Seed);
        var model = ModelCatalog.Create(config.Model, data.Train.ExampleShape, data.Train.NumClasses, config.MlpHidden);
        model.to(device);
        Model = model;
        using var optimizer = OptimizerFactory.Create(config, model);
        optimizer.NoiseInterval = config.NoiseInterval;
        // The initial weights are a function of the seed, so distance from initialisation needs no stored copy and survives resumes.
        using var initial = config.NoiseInterval > 0 ? Diagnostics.ParameterVector.Of(model) : null;
        var scheduler = new LrScheduler(config.Schedule, config.Epochs);
        var state = new State();

        if (resuming)
        {
            state = Restore(checkpointPath, model, optimizer, device);
            scheduler.PlateauState = (state.PlateauFactor, state.PlateauBest, state.PlateauBad);
            OnMessage?.Invoke($"resumed from {checkpointPath} at epoch {state.Epoch + 1}, step {state.StepInEpoch} ({state.GlobalStep} steps done)");
        }
        else if (File.Exists(checkpointPath)) File.Delete(checkpointPath);

        using var metrics = new CsvLog(Path.Combine(runDir, "metrics.csv"), EpochMetrics.Header, resuming, keep: r => int.Parse(r[0]) <= state.Epoch);
        using var steps = new CsvLog(Path.Combine(runDir, "steps.csv"), "step,epoch,lr,loss,accuracy,ms,skipped,beta,eta,s,cos_g1_g2,perp_ratio,kl_base,kl_cross,kl_orthogonal", resuming, keep: r => long.Parse(r[0]) < state.GlobalStep);
        using var layers = new CsvLog(Path.Combine(runDir, "layers.csv"), "step,layer,s,beta,eta,cos_g1_g2,perp_ratio,kl_base,kl_cross,kl_orthogonal", resuming, keep: r => long.Parse(r[0]) < state.GlobalStep);
        using var noise = config.NoiseInterval > 0 ? new CsvLog(Path.Combine(runDir, "noise.csv"), NoiseLog.Header, resuming, keep: r => long.Parse(r[0]) < state.GlobalStep) : null;

        using var feed = new BatchFeed(data.Train, config, device);
        int n = data.Train.Count;
        int stepsPerEpoch = BatchOrder.StepsPerEpoch(n, config.BatchSize);
        double baseLr = config.ScaledLr;
        long stepsThisProcess = 0;
        int consecutiveSkips = 0;
        var clock = Stopwatch.StartNew();
        double startSeconds = state.TrainSeconds + state.EvalSeconds;
        bool stopped = false, maxStepsReached = false;
        var warningsSeen = state.Warnings.ToHashSet();

        void SaveCheckpoint()
        {
            (state.PlateauFactor, state.PlateauBest, state.PlateauBad) = scheduler.PlateauState;
            foreach (var w in optimizer.Warnings) if (warningsSeen.Add(w)) { state.Warnings.Add(w); OnMessage?.Invoke(w); }
            optimizer.Warnings.Clear();
            // Logs first: once the checkpoint names a step, every row up to it must already be on disk.
            metrics.Flush(); steps.Flush(); layers.Flush(); noise?.Flush();
            var optimizerState = optimizer.StateDict();
            Checkpoint.Save(checkpointPath, JsonSerializer.Serialize(state, StateJson), model.state_dict(), optimizerState);
        }

        for (; state.Epoch < config.Epochs && !stopped; state.Epoch++)
        {
            model.train();
            using var permutation = BatchOrder.Permutation(n, config.Seed, state.Epoch);
            for (; state.StepInEpoch < stepsPerEpoch; state.StepInEpoch++)
            {
                if (config.MaxSteps > 0 && state.GlobalStep >= config.MaxSteps) { maxStepsReached = true; break; }
                using var scope = torch.NewDisposeScope();
                double lr = baseLr * scheduler.Factor(state.Epoch + state.StepInEpoch / (double)stepsPerEpoch);
                // Training time counts the batch's preparation (or the wait for it) and ends when the device has finished the step.
                var sw = Stopwatch.StartNew();
                var (x, y) = feed.Get(state.Epoch, state.StepInEpoch, permutation, stepsPerEpoch);
                using var batchX = x;
                using var batchY = y;
                using var before = noise is not null && optimizer.StepCount % config.NoiseInterval == 0 ? Diagnostics.ParameterVector.Of(model) : null;
                var result = optimizer.Step(x, y, lr);
                DeviceChoice.Synchronize(device);
                double ms = sw.Elapsed.TotalMilliseconds;
                state.TrainSeconds += ms / 1000;
                state.StepMs.Add(ms);

                if (result.Skipped)
                {
                    state.SkippedSteps++;
                    OnMessage?.Invoke($"step {state.GlobalStep}: {result.Message}");
                    if (++consecutiveSkips >= MaxConsecutiveSkips)
                    {
                        // A diverged run is a result (sweeps at large learning rates expect some), not a crash: it ends with a summary.
                        state.Diverged = $"{MaxConsecutiveSkips} consecutive steps had non-finite loss or gradients (last at step {state.GlobalStep}); the run diverged. Lower the learning rate or raise damping.";
                        OnMessage?.Invoke(state.Diverged);
                        state.GlobalStep++;
                        break;
                    }
                }
                else
                {
                    consecutiveSkips = 0;
                    state.EpochLossSum += result.LossSum;
                    state.EpochCorrect += result.Correct;
                    state.EpochExamples += result.Examples;
                }
                if (noise is not null && result.Noise is { } estimates && before is not null)
                {
                    using var now = Diagnostics.ParameterVector.Of(model);
                    using var update = now.Combine(1, before, -1);
                    using var travelled = now.Combine(1, initial!, -1);
                    double alpha = Diagnostics.StepAlpha.Compute(result.Loss, LossAndSlope(model, x, y, update, config.MicroBatchSize, out var slope), slope);
                    foreach (var row in NoiseLog.Rows(state.GlobalStep, state.Epoch + 1, estimates, update.Norm(), travelled.Norm(), alpha)) noise.Append(row);
                }
                var fd = result.Fop;
                steps.Append(FormattableString.Invariant($"{state.GlobalStep},{state.Epoch + 1},{lr:g6},{result.Loss:g6},{result.Correct / (double)Math.Max(1, result.Examples):g6},{ms:F1},{(result.Skipped ? 1 : 0)},{fd?.MeanBeta:g6},{fd?.MeanEta:g6},{fd?.MeanS:g6},{fd?.CosG1G2:g6},{fd?.MeanPerpRatio:g6},{fd?.KlBase:g6},{fd?.KlCross:g6},{fd?.KlOrthogonal:g6}"));
                if (fd is not null)
                    foreach (var l in fd.Layers)
                        layers.Append(FormattableString.Invariant($"{state.GlobalStep},{l.Layer},{l.S:g6},{l.Beta:g6},{l.Eta:g6},{l.CosG1G2:g6},{l.PerpRatio:g6},{l.KlBase:g6},{l.KlCross:g6},{l.KlOrthogonal:g6}"));
                state.GlobalStep++;
                stepsThisProcess++;

                double elapsed = clock.Elapsed.TotalSeconds;
                long totalSteps = (long)config.Epochs * stepsPerEpoch;
                if (config.MaxSteps > 0) totalSteps = Math.Min(totalSteps, config.MaxSteps);
                double rate = elapsed / stepsThisProcess;
                OnProgress?.Invoke(new TrainingProgress(state.Epoch + 1, config.Epochs, state.StepInEpoch + 1, stepsPerEpoch, state.GlobalStep,
                    state.EpochLossSum / Math.Max(1, state.EpochExamples), state.EpochCorrect / (double)Math.Max(1, state.EpochExamples), state.LastTestAccuracy,
                    TimeSpan.FromSeconds(startSeconds + elapsed), TimeSpan.FromSeconds(rate * Math.Max(0, totalSteps - state.GlobalStep))));

                bool periodic = config.CheckpointEverySteps > 0 && state.GlobalStep % config.CheckpointEverySteps == 0;
                if (periodic || (StopAfterSteps is long stopAt && stepsThisProcess >= stopAt))
                {
                    state.StepInEpoch++;
                    SaveCheckpoint();
                    state.StepInEpoch--;
                }
                if (StopAfterSteps is long stop && stepsThisProcess >= stop) { stopped = true; break; }
            }
            if (stopped) break;
            if (state.Diverged is not null) { state.Epoch++; break; }
            if (maxStepsReached && state.StepInEpoch == 0) break;

            var evalClock = Stopwatch.StartNew();
            var (testLoss, testAccuracy) = Evaluate(model, data.Test, config.EvalBatchSize, device);
            state.EvalSeconds += evalClock.Elapsed.TotalSeconds;
            scheduler.EndEpoch(testAccuracy);
            state.LastTestAccuracy = testAccuracy;
            state.BestTestAccuracy = Math.Max(state.BestTestAccuracy, testAccuracy);
            double epochLr = baseLr * scheduler.Factor(state.Epoch + 1);
            metrics.Append(new EpochMetrics(state.Epoch + 1, state.GlobalStep, epochLr, state.EpochLossSum / Math.Max(1, state.EpochExamples),
                state.EpochCorrect / (double)Math.Max(1, state.EpochExamples), testLoss, testAccuracy, state.TrainSeconds, state.EvalSeconds, state.SkippedSteps).ToCsv());
            if (config.TargetAccuracy is double target && state.TimeToTarget is null && testAccuracy >= target)
                state.TimeToTarget = new TimeToTarget(state.Epoch + 1, state.TrainSeconds, state.TrainSeconds + state.EvalSeconds);
            state.StepInEpoch = 0;
            state.EpochLossSum = 0;
            state.EpochCorrect = state.EpochExamples = 0;
            if (config.AbandonBelow is double floor && state.Epoch + 1 >= config.AbandonAfterEpochs && state.BestTestAccuracy < floor)
            {
                // Sweeps at large learning rates produce runs stuck at chance that never diverge to NaN; their budget is better spent elsewhere.
                state.Diverged = $"stalled: best test accuracy {state.BestTestAccuracy:P2} still below {floor:P2} after {state.Epoch + 1} epochs; abandoned.";
                OnMessage?.Invoke(state.Diverged);
            }
            bool done = (config.StopAtTarget && state.TimeToTarget is not null) || maxStepsReached || state.Diverged is not null;
            state.Epoch++;
            SaveCheckpoint();
            state.Epoch--;
            if (done) { state.Epoch++; break; }
        }

        var sorted = state.StepMs.OrderBy(v => v).ToArray();
        var summary = new RunSummary
        {
            Name = config.Name, Optimizer = config.Optimizer, Model = config.Model, BatchSize = config.BatchSize, Lr = baseLr, Seed = config.Seed,
            EpochsRun = Math.Min(state.Epoch, config.Epochs), Steps = state.GlobalStep, BestTestAccuracy = state.BestTestAccuracy,
            FinalTestAccuracy = state.LastTestAccuracy ?? double.NaN, TargetAccuracy = config.TargetAccuracy, TimeToTarget = state.TimeToTarget,
            TrainSeconds = state.TrainSeconds, EvalSeconds = state.EvalSeconds, MedianStepMs = sorted.Length == 0 ? double.NaN : sorted[sorted.Length / 2],
            SkippedSteps = state.SkippedSteps, PreconditionedParameters = optimizer.PreconditionedParameters, Warnings = state.Warnings,
            Completed = !stopped && state.Diverged is null && state.Epoch >= config.Epochs, Diverged = state.Diverged, Device = device.type.ToString().ToLowerInvariant(),
        };
        if (!stopped) RunJson.Write(Path.Combine(runDir, "summary.json"), summary);
        return summary;
    }

    /// <summary>
    /// The batch's mean loss at the model's current weights and its slope along <paramref name="direction"/> (one forward and
    /// backward, for Cockpit's alpha); gradients are cleared and buffers (BatchNorm statistics) restored, so training is unaffected.
    /// </summary>
    static double LossAndSlope(Module<Tensor, Tensor> model, Tensor x, Tensor y, Diagnostics.ParameterVector direction, int microBatchSize, out double slope)
    {
        using var scope = torch.NewDisposeScope();
        using var buffers = new BufferSnapshot(model);
        var named = model.named_parameters().Where(p => p.parameter.requires_grad).ToList();
        void Zero() { foreach (var (_, p) in named) { using var g = p.grad; g?.zero_(); } }
        Zero();
        // Micro-batched like the step itself, so any batch that trains also fits here.
        var (lossSum, _) = new GradientPass(model, Likelihood.Categorical, microBatchSize).Accumulate(x, y, x.shape[0]);
        slope = named.Sum(p => { using var g = p.parameter.grad; return g is null ? 0 : (g.to_type(ScalarType.Float64) * direction[p.name].to_type(ScalarType.Float64)).sum().item<double>(); });
        Zero();
        return HostReads.Scalar(lossSum) / x.shape[0];
    }

    /// <summary>Mean loss and accuracy of <paramref name="model"/> on a data set, in eval mode without gradients.</summary>
    public static (double Loss, double Accuracy) Evaluate(Module<Tensor, Tensor> model, ImageDataset set, int batchSize, Device device)
    {
        model.eval();
        using var noGrad = torch.no_grad();
        double lossSum = 0;
        long correct = 0, evaluated = 0;
        for (int start = 0; start < set.Count; start += batchSize)
        {
            using var scope = torch.NewDisposeScope();
            var idx = torch.arange(start, Math.Min(set.Count, start + batchSize), dtype: ScalarType.Int64);
            var (x, y) = set.Batch(idx, ImageView.Eval, device);
            var outputs = model.call(x);
            lossSum += Likelihood.Categorical.LossSum(outputs, y).to_type(ScalarType.Float64).item<double>();
            correct += Likelihood.Categorical.Correct(outputs, y);
            evaluated += y.shape[0];
        }
        model.train();
        return (lossSum / Math.Max(1, evaluated), correct / (double)Math.Max(1, evaluated));
    }
}
