using Fop.Research.Diagnostics;
using Fop.Research.Curvature;
using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;
using Fop.Research.Devices;

namespace Fop.Research.Optim;

/// <summary>What KFAC and FOP share: the curvature state, the momentum/weight-decay tail, and their checkpointed state.</summary>
public abstract class NaturalGradientOptimizer : ModelOptimizer
{
    /// <summary>Validates <paramref name="kfac"/> and <paramref name="tail"/>, finds and hooks the layers to precondition.</summary>
    private protected NaturalGradientOptimizer(string name, Module<Tensor, Tensor> model, KfacOptions kfac, TailOptions tail, Likelihood? likelihood, int microBatchSize, long seed)
        : base(name, model, likelihood ?? Likelihood.Categorical, microBatchSize, seed)
    {
        kfac.Validate();
        tail.Validate();
        Curvature = new KfacCurvature(model, kfac, Likelihood, seed);
        Tail = new NaturalGradientTail(kfac, tail);
        TailOptions = tail;
    }

    /// <summary>The momentum, weight decay, AdamW and clipping settings in force after preconditioning.</summary>
    public TailOptions TailOptions { get; }

    /// <summary>The curvature state (layers, factors, preconditioners).</summary>
    public KfacCurvature Curvature { get; }
    /// <summary>Which parameter is which preconditioned layer's weight or bias.</summary>
    private protected LayerMap Map => map ??= new LayerMap(Curvature.Layers, Parameters);
    LayerMap? map;
    /// <summary>KL clipping, gradient clipping and the update rules.</summary>
    private protected NaturalGradientTail Tail { get; }
    /// <inheritdoc />
    public override IReadOnlyList<string> PreconditionedParameters => Curvature.ParameterNames(Model);

    /// <inheritdoc />
    /// <remarks>Each layer gets an owner (cost-balanced) that reduces its factors, decomposes them and computes its update.</remarks>
    public override void Distribute(Distributed.DataParallel parallel)
    {
        base.Distribute(parallel);
        Curvature.Distribute(parallel);
    }

    /// <summary>
    /// In a job, each layer's direction was computed by its owner only: the owners broadcast theirs so every rank applies
    /// the same update. A no-op on one process.
    /// </summary>
    private protected void ShareDirections(IReadOnlyList<Tensor> directions)
    {
        if (Parallel is not null) Parallel.BroadcastFromOwners(directions, Curvature.Ownership!);
    }

    /// <summary>
    /// After the backward passes: gathers subset statistics when due and ends the curvature step, checking the gradients
    /// (<paramref name="totals"/>' finite flag) with any statistics that must commit now. The refused result when nothing
    /// may commit, else null.
    /// </summary>
    private protected StepResult? EndCurvatureStep(Tensor inputs, Tensor targets, StepTotals totals)
    {
        CurvatureCommit commit;
        using (PhaseTimer.Time(Timer, StepPhase.Curvature))
        {
            Curvature.GatherSubset(Model, inputs, targets, StepCount, MicroBatchSize, share: inputs.shape[0] / (double)BatchExamples);
            commit = Curvature.EndStep(StepCount, Warnings, totals.GradientsFinite);
        }
        return commit == CurvatureCommit.Committed ? null
            : NonFinite(HostReads.Scalar(totals.LossSum), totals.Examples, commit == CurvatureCommit.StatisticsNotFinite ? "curvature statistics" : "loss or gradient");
    }

    /// <summary>
    /// The step's one read: loss sum, correct count, the finite checks of the gradients, of <paramref name="directions"/>
    /// (named <paramref name="direction"/> in a refusal) and of the KL-clip factor (from the directions and
    /// <paramref name="gradients"/>), and of curvature statistics left pending. A refused read commits nothing; otherwise the
    /// pending statistics commit and the directions are scaled by the KL-clip factor, ready for the tail.
    /// </summary>
    private protected StepRead ReadStep(IReadOnlyList<Tensor> directions, IEnumerable<Tensor> gradients, string direction, StepTotals totals, double lr)
    {
        var device = totals.LossSum.device;
        var nu = Tail.KlClipFactor(directions.Zip(gradients), lr);
        var finite = HostReads.AllFinite(nu is null ? directions : directions.Append(nu), device).logical_and(totals.GradientsFinite);
        var read = HostReads.Scalars(totals.LossSum, totals.Correct, finite, nu ?? HostReads.Constant(1, device), Curvature.DeferredStatisticsFinite(device));
        double loss = read[0];
        StepRead Result(StepResult? refused = null) => new(loss, (long)read[1], nu is null ? null : read[3], refused);
        if (read[4] == 0) return Result(NonFinite(loss, totals.Examples, Curvature.RefuseDeferred(StepCount, Warnings)));
        if (read[2] == 0)
        {
            Curvature.DiscardStep();
            return Result(NonFinite(loss, totals.Examples, $"loss, gradient or {direction}" + (nu is null ? "" : $" (KL-clip factor {read[3]})")));
        }
        Curvature.ResolveDeferred(commit: true);
        if (nu is not null)
        {
            using var factor = nu.to_type(directions[0].dtype);
            foreach (var d in directions) d.mul_(factor);
        }
        return Result();
    }

    /// <inheritdoc />
    protected override void SaveState(IDictionary<string, Tensor> state)
    {
        Tail.SaveState(state);
        Curvature.SaveState(state);
    }

    /// <inheritdoc />
    protected override void LoadState(IReadOnlyDictionary<string, Tensor> state)
    {
        Tail.LoadState(state);
        Curvature.LoadState(state);
    }

    /// <inheritdoc />
    public override void Dispose()
    {
        Curvature.Dispose();
        base.Dispose();
    }
}
