using Fop.Research.Curvature;
using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;
using Fop.Research.Devices;

namespace Fop.Research.Optim;

/// <summary>
/// What Shampoo, SOAP and Muon share: one backward over the batch; a proposed step that computes every direction and the
/// state that would replace the current one, touching nothing; the step's one host read (loss, correct count, and the
/// finite check of gradients, directions and proposed state together); then commit and apply, or refuse with weights
/// and state exactly as they were. Each weight is seen through <see cref="MatrixView"/>.
/// </summary>
public abstract class MatrixOptimizer : ModelOptimizer
{
    readonly Dictionary<string, Tensor> state = new(StringComparer.Ordinal);
    readonly double? gradClip;

    /// <summary>Sets up the common state; <paramref name="gradClip"/> clips the global norm of the directions (null: off).</summary>
    private protected MatrixOptimizer(string name, Module<Tensor, Tensor> model, Likelihood? likelihood, int microBatchSize, double? gradClip)
        : base(name, model, likelihood ?? Likelihood.Categorical, microBatchSize, 0)
    {
        if (gradClip is double c && !(c > 0)) throw new ArgumentOutOfRangeException(nameof(gradClip), c, "grad_clip must be > 0 or null.");
        this.gradClip = gradClip;
    }

    /// <summary>One parameter's update: p &lt;- p (1 - lr WeightDecay) - lr Direction, with lr the step's rate times <paramref name="LrScale"/>.</summary>
    private protected readonly record struct ParameterUpdate(Tensor Direction, double LrScale, double WeightDecay);

    /// <summary>A proposed step: one update per parameter (in <see cref="ModelOptimizer.Parameters"/> order) and the state tensors that replace or join the current ones.</summary>
    private protected sealed record Proposal(IReadOnlyList<ParameterUpdate> Updates, IReadOnlyDictionary<string, Tensor> State);

    /// <summary>The step's directions and new state from the gradients; <paramref name="step"/> counts from 1. Must not change any state.</summary>
    private protected abstract Proposal Propose(IReadOnlyList<Tensor> gradients, long step);

    /// <summary>Work after a committed step that reads only committed state (SOAP's basis refresh); nothing by default.</summary>
    private protected virtual void AfterCommit(long step) { }

    /// <summary>The committed state tensor under <paramref name="key"/>, or null.</summary>
    private protected Tensor? State(string key) => state.GetValueOrDefault(key);

    /// <summary>Replaces (or adds) a committed state tensor outside a step's proposal (SOAP's basis refresh).</summary>
    private protected void SetState(string key, Tensor value)
    {
        if (state.Remove(key, out var old)) old.Dispose();
        state[key] = value.DetachFromDisposeScope();
    }

    /// <inheritdoc />
    /// <remarks>Gradients, proposal, the one read, then commit and apply (or refuse).</remarks>
    protected override StepResult StepCore(Tensor inputs, Tensor targets, double lr)
    {
        ZeroGrad();
        long n = BatchExamples;
        var (lossSum, correct, grads) = BatchGradients(inputs, targets);
        var proposal = Propose(grads, StepCount + 1);

        // The step's one read: a non-finite loss, gradient, direction or proposed statistic refuses the whole step.
        var checkedTensors = grads.Append(lossSum).Concat(proposal.Updates.Select(u => u.Direction)).Concat(proposal.State.Values);
        var read = HostReads.Scalars(lossSum, correct, HostReads.AllFinite(checkedTensors, inputs.device));
        if (read[2] == 0)
        {
            // The proposal's tensors belong to the step's dispose scope and go with it.
            ZeroGrad();
            return NonFinite(read[0], n, "loss, gradient, statistic or direction");
        }

        foreach (var (key, value) in proposal.State) SetState(key, value);
        var items = proposal.Updates.Select((u, i) => new ParameterDirection(Parameters[i].Name, Parameters[i].Parameter, u.Direction)).ToList();
        ClipGlobalNorm(items, gradClip);
        using (torch.no_grad())
            for (int i = 0; i < items.Count; i++)
            {
                var (_, p, direction) = items[i];
                var (_, scale, decay) = proposal.Updates[i];
                if (decay != 0) p.mul_(1 - lr * scale * decay);
                p.add_(direction.reshape(p.shape), alpha: -lr * scale);
            }
        AfterCommit(StepCount + 1);
        return new StepResult(read[0], (long)read[1], n);
    }

    /// <summary>The proposed step's state key of <paramref name="kind"/> for parameter <paramref name="parameter"/> (and block, when given).</summary>
    private protected static string Key(string kind, string parameter, int? block = null) => block is int b ? $"{kind}/{parameter}/{b}" : $"{kind}/{parameter}";

    /// <inheritdoc />
    protected override void SaveState(IDictionary<string, Tensor> saved)
    {
        foreach (var (key, t) in state) saved[$"{Name}/{key}"] = t;
    }

    /// <inheritdoc />
    protected override void LoadState(IReadOnlyDictionary<string, Tensor> saved)
    {
        foreach (var t in state.Values) t.Dispose();
        state.Clear();
        var prefix = Name + "/";
        foreach (var (key, t) in saved)
            if (key.StartsWith(prefix, StringComparison.Ordinal))
                state[key[prefix.Length..]] = t.clone().DetachFromDisposeScope();
    }

    /// <inheritdoc />
    public override void Dispose()
    {
        foreach (var t in state.Values) t.Dispose();
        state.Clear();
        base.Dispose();
    }
}
