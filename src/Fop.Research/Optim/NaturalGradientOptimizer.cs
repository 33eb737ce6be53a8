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
