using Fop.Research.Curvature;
using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;
using Fop.Research.Devices;

namespace Fop.Research.Optim;

/// <summary>A first-order optimizer (SGD or AdamW): one backward over the batch, then its update rule.</summary>
public sealed class FirstOrderOptimizer : ModelOptimizer
{
    readonly IUpdateRule rule;
    readonly double? gradClip;

    /// <summary>Creates the optimizer with a ready update rule.</summary>
    public FirstOrderOptimizer(string name, Module<Tensor, Tensor> model, Likelihood likelihood, IUpdateRule rule, int microBatchSize = 0, long seed = 0, double? gradClip = null)
        : base(name, model, likelihood, microBatchSize, seed)
    {
        if (gradClip is double c && !(c > 0)) throw new ArgumentOutOfRangeException(nameof(gradClip), c, "grad_clip must be > 0 or null.");
        this.rule = rule;
        this.gradClip = gradClip;
    }

    /// <summary>SGD with momentum and weight decay.</summary>
    public static FirstOrderOptimizer Sgd(Module<Tensor, Tensor> model, SgdOptions options, Likelihood? likelihood = null, int microBatchSize = 0, double? gradClip = null) =>
        new("sgd", model, likelihood ?? Likelihood.Categorical, options.CreateRule(), microBatchSize, 0, gradClip);

    /// <summary>AdamW.</summary>
    public static FirstOrderOptimizer AdamW(Module<Tensor, Tensor> model, AdamWOptions options, Likelihood? likelihood = null, int microBatchSize = 0, double? gradClip = null) =>
        new("adamw", model, likelihood ?? Likelihood.Categorical, options.CreateRule(), microBatchSize, 0, gradClip);

    /// <inheritdoc />
    protected override StepResult StepCore(Tensor inputs, Tensor targets, double lr)
    {
        ZeroGrad();
        long n = BatchExamples;
        var (lossSum, correct, grads) = BatchGradients(inputs, targets);
        // The step's one read: loss, correct count and the finite check together.
        var read = HostReads.Scalars(lossSum, correct, HostReads.AllFinite(grads.Append(lossSum), inputs.device));
        if (read[2] == 0) { ZeroGrad(); return NonFinite(read[0], n); }
        var items = Parameters.Select((p, i) => new ParameterDirection(p.Name, p.Parameter, grads[i])).ToList();
        ClipGlobalNorm(items, gradClip);
        rule.Apply(items, lr);
        return new StepResult(read[0], (long)read[1], n);
    }

    /// <inheritdoc />
    protected override void SaveState(IDictionary<string, Tensor> state) => rule.SaveState(state, "rule/");
    /// <inheritdoc />
    protected override void LoadState(IReadOnlyDictionary<string, Tensor> state) => rule.LoadState(state, "rule/");
}
