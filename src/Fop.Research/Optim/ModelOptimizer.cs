using Fop.Research.Diagnostics;
using Fop.Research.Curvature;
using TorchSharp;
using Fop.Research.Models;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Fop.Research.Optim;

/// <summary>What one optimizer step did.</summary>
/// <param name="LossSum">Sum of per-example losses of the batch (before the update).</param>
/// <param name="Correct">Correct predictions in the batch (before the update).</param>
/// <param name="Examples">Examples in the batch.</param>
/// <param name="Skipped">True when a non-finite loss or gradient stopped the step before it touched weights or state.</param>
/// <param name="Message">Why the step was skipped, or warnings worth showing.</param>
/// <param name="Fop">FOP internals of this step, when computed.</param>
/// <param name="Noise">Gradient-noise statistics of this batch (overall first, then per layer), when measured.</param>
/// <param name="KlClipFactor">KFAC's and FOP's KL-clip factor nu applied to this step (1: not clipped), when the KL clip is on.</param>
public sealed record StepResult(double LossSum, long Correct, long Examples, bool Skipped = false, string? Message = null, FopDiagnostics? Fop = null,
    IReadOnlyList<(string Layer, Diagnostics.NoiseEstimate Estimate)>? Noise = null, double? KlClipFactor = null)
{
    /// <summary>Mean loss of the batch.</summary>
    public double Loss => LossSum / Math.Max(1, Examples);
}

/// <summary>
/// An optimizer that owns the whole step: it runs forward and backward itself (KFAC needs to watch them, FOP runs one
/// backward per half-batch), accumulates micro-batches so any batch fits in memory, refuses non-finite steps and updates.
/// </summary>
public abstract class ModelOptimizer : IDisposable
{
    /// <summary>Sets up the common state; <paramref name="microBatchSize"/> 0 means the whole batch at once.</summary>
    protected ModelOptimizer(string name, Module<Tensor, Tensor> model, Likelihood likelihood, int microBatchSize, long seed)
    {
        if (microBatchSize < 0) throw new ArgumentOutOfRangeException(nameof(microBatchSize), microBatchSize, "micro_batch_size must be >= 0 (0: whole batch).");
        Name = name;
        Model = model;
        Likelihood = likelihood;
        MicroBatchSize = microBatchSize;
        Seed = seed;
        Parameters = model.named_parameters().Where(p => p.parameter.requires_grad).Select(p => (p.name, p.parameter)).ToList();
    }

    /// <summary>Short name: sgd, adamw, kfac, fop, shampoo, soap, muon.</summary>
    public string Name { get; }
    /// <summary>The model being trained.</summary>
    public Module<Tensor, Tensor> Model { get; }
    /// <summary>The loss and its predictive distribution.</summary>
    public Likelihood Likelihood { get; }
    /// <summary>Largest chunk of a batch run through forward/backward at once (0: whole batch).</summary>
    public int MicroBatchSize { get; }
    /// <summary>Seed of the optimizer's own randomness (Monte-Carlo labels).</summary>
    public long Seed { get; }
    /// <summary>Steps taken (skipped steps do not count).</summary>
    public long StepCount { get; private set; }
    /// <summary>Trainable parameters by name.</summary>
    protected IReadOnlyList<(string Name, Parameter Parameter)> Parameters { get; }
    /// <summary>Names of the parameters that get a curvature preconditioner (empty for first-order methods).</summary>
    public virtual IReadOnlyList<string> PreconditionedParameters => [];
    /// <summary>When set, each step's time is split by phase into it (benchmarks; null costs nothing).</summary>
    public PhaseTimer? Timer { get; set; }
    /// <summary>Measure gradient noise from two halves of the batch every this many steps (0: never). FOP's own halves cost nothing; other optimizers run two extra backward passes on those steps.</summary>
    public int NoiseInterval { get; set; }
    /// <summary>Whether the current step measures gradient noise (set before <see cref="StepCore"/> runs).</summary>
    protected bool NoiseDue { get; private set; }
    /// <summary>When BatchNorm running statistics change: once per step (default) or once per forward chunk.</summary>
    public RunningStatistics RunningStatistics { get; set; } = RunningStatistics.PerStep;
    BatchNormStep? batchNorm;
    /// <summary>Human-readable warnings (layers that could not be preconditioned, failed decompositions).</summary>
    public List<string> Warnings { get; } = new();
    /// <summary>The job this optimizer trains in with other processes (null: a single process, the unchanged code path).</summary>
    public Distributed.DataParallel? Parallel { get; private set; }
    /// <summary>Examples in the current step's whole batch (all ranks together): the divisor of every rank's gradient.</summary>
    protected long BatchExamples { get; private set; }

    /// <summary>
    /// Makes this optimizer one replica of a data-parallel job: each step trains on this rank's rows of the global batch and
    /// the ranks' gradients (and curvature) are combined so that every replica takes the same step. Call before the first step.
    /// </summary>
    public virtual void Distribute(Distributed.DataParallel parallel)
    {
        if (StepCount > 0) throw new InvalidOperationException("Distribute must be called before the first step.");
        if (NoiseInterval > 0) throw new NotSupportedException("Gradient-noise logging (noise_interval) is not supported with several processes.");
        Parallel = parallel;
    }

    /// <summary>The rows of a global batch of <paramref name="n"/> this rank trains on (FOP: rows of its half).</summary>
    protected virtual (long Start, long Count) LocalRows(Distributed.DataParallel parallel, long n) => parallel.Shard(n);

    /// <summary>
    /// One step on the batch (inputs, targets) with learning rate <paramref name="lr"/>. In a data-parallel job every rank
    /// passes the same whole batch and trains on its own rows of it.
    /// </summary>
    public StepResult Step(Tensor inputs, Tensor targets, double lr)
    {
        if (!(lr >= 0) || double.IsInfinity(lr)) throw new ArgumentOutOfRangeException(nameof(lr), lr, "Learning rate must be finite and >= 0.");
        if (inputs.shape[0] != targets.shape[0]) throw new ArgumentException($"{inputs.shape[0]} inputs but {targets.shape[0]} targets.");
        using var lap = Timer is null ? default : Timer.Step();
        using var scope = torch.NewDisposeScope();
        BatchExamples = inputs.shape[0];
        if (Parallel is { } parallel)
        {
            var (start, count) = LocalRows(parallel, BatchExamples);
            inputs = inputs.narrow(0, start, count);
            targets = targets.narrow(0, start, count);
        }
        NoiseDue = NoiseInterval > 0 && StepCount % NoiseInterval == 0 && inputs.shape[0] >= 2;
        var noise = NoiseDue && !MeasuresNoiseItself ? MeasureNoise(inputs, targets) : null;
        StepResult result;
        using (var statistics = BatchNormStep.Begin(Model, inputs.shape[0], RunningStatistics))
        {
            batchNorm = statistics;
            try { result = StepCore(inputs, targets, lr); }
            finally { batchNorm = null; }
            // A refused step disposes the scope uncommitted: BatchNorm statistics stay as they were, like weights and state.
            if (!result.Skipped) statistics?.Commit();
            if (!result.Skipped && statistics is not null) Parallel?.AverageBuffers(Model, inputs.shape[0]);
        }
        if (noise is not null && !result.Skipped) result = result with { Noise = noise };
        if (!result.Skipped) StepCount++;
        return result;
    }

    /// <summary>True for optimizers that already compute two half-batch gradients (FOP) and report noise from them.</summary>
    protected virtual bool MeasuresNoiseItself => false;

    /// <summary>Noise statistics from per-parameter gradients of two halves, overall and per layer (parameters grouped by module).</summary>
    protected IReadOnlyList<(string Layer, Diagnostics.NoiseEstimate Estimate)> NoiseFrom(IReadOnlyList<Tensor> g1, IReadOnlyList<Tensor> g2, long n1, long n2)
    {
        var list = new List<(string, Diagnostics.NoiseEstimate)> { ("all", Diagnostics.NoiseEstimate.FromParts(g1, g2, n1, n2)) };
        foreach (var group in Parameters.Select((p, i) => (Layer: LayerOf(p.Name), Index: i)).GroupBy(p => p.Layer))
            list.Add((group.Key, Diagnostics.NoiseEstimate.FromParts(group.Select(p => g1[p.Index]), group.Select(p => g2[p.Index]), n1, n2)));
        return list;
    }

    static string LayerOf(string parameter) => parameter.LastIndexOf('.') is int dot and > 0 ? parameter[..dot] : parameter;

    /// <summary>Two extra backward passes over the batch's halves; buffers (BatchNorm statistics) are restored so the trajectory is unchanged.</summary>
    IReadOnlyList<(string Layer, Diagnostics.NoiseEstimate Estimate)> MeasureNoise(Tensor inputs, Tensor targets)
    {
        using var scope = torch.NewDisposeScope();
        DualGradients dual;
        using (new Models.BufferSnapshot(Model))
        {
            ZeroGrad();
            dual = HalfBatchSplit.Instance.Compute(new GradientPass(Model, Likelihood, MicroBatchSize), inputs, targets, TakeGradients);
        }
        return NoiseFrom(dual.First, dual.Second, dual.FirstExamples, dual.SecondExamples);
    }

    /// <summary>The current step's forward and backward machinery, with <paramref name="recorder"/> watching (null: nobody).</summary>
    protected GradientPass Pass(ICurvatureRecorder? recorder = null) =>
        new(Model, Likelihood, MicroBatchSize) { Recorder = recorder, Timer = Timer, BatchNorm = batchNorm };

    /// <summary>
    /// The gradient stage most steps begin with: gradients cleared, forward and backward over the batch's chunks (with
    /// <paramref name="recorder"/> watching), and in a job the gradients, loss sum and correct count summed over the ranks.
    /// </summary>
    protected (Tensor LossSum, Tensor Correct, List<Tensor> Grads) BatchGradients(Tensor inputs, Tensor targets, ICurvatureRecorder? recorder = null)
    {
        var (lossSum, correct) = Pass(recorder).Accumulate(inputs, targets, BatchExamples);
        var grads = CurrentGradients();
        Parallel?.SumGradients(grads, lossSum, correct);
        return (lossSum, correct, grads);
    }

    /// <summary>The accumulated gradients, copied, then cleared: one half's gradient for FOP and the noise probe.</summary>
    protected List<Tensor> TakeGradients()
    {
        var g = CopyGradients();
        ZeroGrad();
        return g;
    }

    /// <summary>The method-specific step; must not touch weights or state when it returns a skipped result.</summary>
    protected abstract StepResult StepCore(Tensor inputs, Tensor targets, double lr);

    /// <summary>The optimizer's complete state (step counter, update-rule buffers, curvature) as named tensors.</summary>
    public Dictionary<string, Tensor> StateDict()
    {
        // Every state tensor lives on the model's device (checkpoints move them to the CPU when they write).
        var state = new Dictionary<string, Tensor> { ["step"] = torch.tensor(StepCount, device: Parameters.Count > 0 ? Parameters[0].Parameter.device : torch.CPU) };
        SaveState(state);
        return state;
    }

    /// <summary>Restores a state produced by <see cref="StateDict"/>.</summary>
    public void LoadStateDict(IReadOnlyDictionary<string, Tensor> state)
    {
        StepCount = state.TryGetValue("step", out var s) ? s.item<long>() : throw new ArgumentException("Optimizer state has no 'step'.");
        LoadState(state);
    }

    /// <summary>Writes method-specific state.</summary>
    protected abstract void SaveState(IDictionary<string, Tensor> state);
    /// <summary>Reads method-specific state.</summary>
    protected abstract void LoadState(IReadOnlyDictionary<string, Tensor> state);

    /// <summary>Clears every parameter's gradient.</summary>
    protected void ZeroGrad()
    {
        foreach (var (_, p) in Parameters)
        {
            using var g = p.grad;
            g?.zero_();
        }
    }

    /// <summary>The current gradients (zeros where a parameter got none), detached copies that survive <see cref="ZeroGrad"/>.</summary>
    protected List<Tensor> CopyGradients() =>
        Parameters.Select(p => { using var g = p.Parameter.grad; return g is null ? torch.zeros_like(p.Parameter) : g.detach().clone(); }).ToList();

    /// <summary>The current gradients as detached views (no copy; zeros where a parameter got none), valid until the next backward or <see cref="ZeroGrad"/>.</summary>
    protected List<Tensor> CurrentGradients() =>
        Parameters.Select(p => { using var g = p.Parameter.grad; return g is null ? torch.zeros_like(p.Parameter) : g.detach(); }).ToList();

    /// <summary>The result of a step refused because <paramref name="what"/> was non-finite.</summary>
    protected StepResult NonFinite(double lossSum, long examples, string what = "loss or gradient") =>
        new(lossSum, 0, examples, Skipped: true, Message: $"{Name} step {StepCount}: non-finite {what} (loss sum {lossSum}); weights and optimizer state left unchanged.");

    /// <summary>Scales directions so their global norm is at most <paramref name="maxNorm"/> (no-op when null); on the device, no read.</summary>
    internal static void ClipGlobalNorm(IReadOnlyList<ParameterDirection> items, double? maxNorm)
    {
        if (maxNorm is not double max || items.Count == 0) return;
        using var scope = torch.NewDisposeScope();
        var total = torch.stack(items.Select(i => i.Direction.square().sum().to_type(ScalarType.Float64)).ToArray()).sum();
        // min(1, max / norm): 1 below the limit (and for a zero norm, where max / 0 is infinite).
        var factor = (max / total.sqrt()).clamp_max(1.0);
        foreach (var item in items) item.Direction.mul_(factor.to_type(item.Direction.dtype));
    }

    /// <inheritdoc />
    public virtual void Dispose() => GC.SuppressFinalize(this);
}
