using Fop.Research.Curvature;
using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Fop.Research.Optim;

/// <summary>What KFAC and FOP share: the curvature state, the momentum/weight-decay tail, and their checkpointed state.</summary>
public abstract class NaturalGradientOptimizer : ModelOptimizer
{
    /// <summary>Validates <paramref name="kfac"/>, finds and hooks the layers to precondition.</summary>
    private protected NaturalGradientOptimizer(string name, Module<Tensor, Tensor> model, KfacOptions kfac, Likelihood? likelihood, int microBatchSize, long seed)
        : base(name, model, likelihood ?? Likelihood.Categorical, microBatchSize, seed)
    {
        kfac.Validate();
        Curvature = new KfacCurvature(model, kfac, Likelihood, seed);
        Tail = new NaturalGradientTail(kfac);
    }

    /// <summary>The curvature state (layers, factors, preconditioners).</summary>
    public KfacCurvature Curvature { get; }
    /// <summary>KL clipping, gradient clipping and the update rules.</summary>
    private protected NaturalGradientTail Tail { get; }
    /// <inheritdoc />
    public override IReadOnlyList<string> PreconditionedParameters => Curvature.ParameterNames(Model);

    /// <summary>
    /// A step refused at its final read (<paramref name="read"/>: loss sum, correct count, finite flag, KL-clip factor,
    /// finite flag of the pending curvature statistics): nothing commits, and the message says which check failed.
    /// </summary>
    private protected StepResult Refused(double[] read, long examples, string direction)
    {
        string what = read[4] == 0 ? "curvature statistics in " + string.Join(", ", Curvature.DeferredNonFiniteLayers())
            : $"loss, gradient or {direction} (KL-clip factor {read[3]})";
        if (read[4] == 0) Warnings.Add($"step {StepCount}: non-finite {what}; step refused, factors unchanged.");
        Curvature.DiscardStep();
        return NonFinite(read[0], examples, what);
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
