using Fop.Research.Curvature;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Fop.Research.Optim;

/// <summary>
/// What KFAC and FOP do after preconditioning: optional KL clipping of the preconditioned directions, optional
/// global-norm clipping, then SGD with momentum and weight decay (AdamW for parameters without a Kronecker block when asked).
/// </summary>
internal sealed class NaturalGradientTail
{
    readonly KfacOptions options;
    readonly double? gradClip;
    readonly IUpdateRule preconditionedRule, plainRule;

    public NaturalGradientTail(KfacOptions options, TailOptions tail)
    {
        this.options = options;
        gradClip = tail.GradClip;
        preconditionedRule = tail.Sgd.CreateRule();
        plainRule = options.Unpreconditioned == UnpreconditionedRule.AdamW ? tail.AdamW.CreateRule() : preconditionedRule;
    }

    /// <summary>KL clipping factor nu = min(1, sqrt(kappa / |sum_l lr^2 &lt;V_l, g_l&gt;|)) as a float64 device scalar (1 for vg = 0, NaN when vg is); null when clipping is off.</summary>
    public Tensor? KlClipFactor(IEnumerable<(Tensor Direction, Tensor Gradient)> layers, double lr)
    {
        if (options.KlClip is not double kappa) return null;
        var list = layers.ToList();
        if (list.Count == 0) return null;
        using var scope = torch.NewDisposeScope();
        var vg = torch.stack(list.Select(l => KroneckerPreconditioner.DotTensor(l.Direction, l.Gradient)).ToArray()).sum() * (lr * lr);
        return (kappa / vg.abs()).sqrt().clamp_max(1.0).MoveToOuterDisposeScope();
    }

    /// <summary>Applies the update: preconditioned layer matrices (already scaled) and plain gradients for everything else.</summary>
    public void Apply(LayerMap map, IReadOnlyList<Tensor> layerDirections, IReadOnlyList<(string Name, Parameter Parameter)> parameters, Func<int, Tensor> plainDirection, double lr)
    {
        var split = layerDirections.Select((d, l) => map.Layers[l].FromMatrix(d)).ToArray();
        var pre = new List<ParameterDirection>();
        var plain = new List<ParameterDirection>();
        for (int i = 0; i < parameters.Count; i++)
        {
            var (name, p) = parameters[i];
            if (map.Owner(i) is { } o)
                pre.Add(new(name, p, o.IsBias ? split[o.Layer].Bias! : split[o.Layer].Weight));
            else
                plain.Add(new(name, p, plainDirection(i)));
        }
        var all = pre.Concat(plain).ToList();
        ModelOptimizer.ClipGlobalNorm(all, gradClip);
        if (ReferenceEquals(preconditionedRule, plainRule)) preconditionedRule.Apply(all, lr);
        else
        {
            preconditionedRule.Apply(pre, lr);
            plainRule.Apply(plain, lr);
        }
    }

    public void SaveState(IDictionary<string, Tensor> state)
    {
        preconditionedRule.SaveState(state, "rule/");
        if (!ReferenceEquals(preconditionedRule, plainRule)) plainRule.SaveState(state, "plain_rule/");
    }

    public void LoadState(IReadOnlyDictionary<string, Tensor> state)
    {
        preconditionedRule.LoadState(state, "rule/");
        if (!ReferenceEquals(preconditionedRule, plainRule)) plainRule.LoadState(state, "plain_rule/");
    }
}
