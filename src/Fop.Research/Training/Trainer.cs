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
using Fop.Research.Devices;

namespace Fop.Research.Training;

/// <summary>
/// Runs a <see cref="RunConfig"/>: batches in a seed-determined order, one optimizer step each, evaluation every epoch (and every step near a target, evals.csv),
/// time-to-target, a run folder (config.json, metrics.csv, steps.csv, layers.csv, checkpoint.bin, summary.json), and
/// resumption from the last checkpoint with the same trajectory as an uninterrupted run.
/// </summary>
public sealed partial class Trainer
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
    /// <summary>
    /// The data-parallel job this process is a rank of (null: a single process). Every rank runs the same config on the same
    /// run folder, which all ranks must see (a shared file system); rank 0 writes it, the others keep their logs in a
    /// temporary folder that is removed at the end.
    /// </summary>
    public Distributed.DataParallel? Parallel { get; init; }

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
        /// <summary>Recent step times (ms), bounded by <see cref="RecentStepTimes"/> so a checkpoint does not grow with the run.</summary>
        public List<double> StepMs { get; set; } = new();
        public TimeToTarget? TimeToTarget { get; set; }
        public long? StepsToTarget { get; set; }
        /// <summary>Validation is evaluated after every step (eval_every_step_above reached, eval_every_step_until not yet).</summary>
        public bool EveryStep { get; set; }
        /// <summary>Evaluation after every step has ended (eval_every_step_until reached); it does not start again.</summary>
        public bool EveryStepEnded { get; set; }
        public double? LastTestAccuracy { get; set; }
        public double BestTestAccuracy { get; set; }
        public double? LastValAccuracy { get; set; }
        public double BestValAccuracy { get; set; } = double.NaN;
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
    /// Throws an <see cref="InvalidDataException"/> naming the file when <paramref name="checkpointPath"/> does not fit the model and
    /// optimizer that <paramref name="config"/> builds for <paramref name="data"/> (a fork to another model, say); writes nothing.
    /// </summary>
    public static void CheckCheckpointFits(RunConfig config, RunData data, string checkpointPath)
    {
        using var model = ModelCatalog.Create(config.Model, data.Train.ExampleShape, data.Train.NumClasses, config.MlpHidden);
        using var optimizer = OptimizerFactory.Create(config, model);
        Restore(checkpointPath, model, optimizer, torch.CPU);
    }

    /// <summary>
    /// Trains in <paramref name="runDir"/> (created); with <paramref name="resume"/>, continues from its checkpoint if there is one.
    /// A resume whose config would change the trajectory already followed is refused (<see cref="ResumeConflictException"/>), and so is
    /// a folder another process is training into (<see cref="RunFolderBusyException"/>).
    /// </summary>
    public RunSummary Run(string runDir, bool resume = false)
    {
        // A device this machine does not have, or a job FOP cannot split into halves, is refused before anything is written
        // (every rank fails here alike, so none is stopped half-way through setting up).
        DeviceChoice.Resolve(config.Device);
        if (Parallel is not null && config.Optimizer == OptimizerKind.Fop) Parallel.RequireEvenRanks();
        // Rank 0 (or the single process) owns the folder; the other ranks of a job write nothing there.
        using var folder = Parallel is { Rank: > 0 } ? null : RunFolderLock.Acquire(runDir);
        using var session = new Session(this, runDir, resume);
        var state = session.State;
        var end = EpochEnd.Completed;
        while (state.Epoch < config.Epochs)
        {
            end = session.TrainEpoch();
            if (end == EpochEnd.Stopped) break;
            if (end == EpochEnd.Diverged) { state.Epoch++; break; }
            // The step budget ran out exactly at an epoch boundary: that epoch was already evaluated.
            if (end == EpochEnd.MaxSteps && state.StepInEpoch == 0) break;
            if (session.EndEpoch(maxStepsReached: end == EpochEnd.MaxSteps)) break;
        }
        return session.Summary(stopped: end == EpochEnd.Stopped);
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
        slope = named.Sum(p => { using var g = p.parameter.grad; return g is null ? 0 : HostReads.Scalar((g.to_type(ScalarType.Float64) * direction[p.name].to_type(ScalarType.Float64)).sum()); });
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
            var read = HostReads.Scalars(Likelihood.Categorical.LossSum(outputs, y), Likelihood.Categorical.CorrectCount(outputs, y));
            lossSum += read[0];
            correct += (long)read[1];
            evaluated += y.shape[0];
        }
        model.train();
        return (lossSum / Math.Max(1, evaluated), correct / (double)Math.Max(1, evaluated));
    }
}
