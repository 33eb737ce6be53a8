using TorchSharp;
using static TorchSharp.torch;
using TorchSharp.Modules;

namespace Fop.Research.Optim;

/// <summary>One parameter and the direction an optimizer wants it to move against.</summary>
public readonly record struct ParameterDirection(string Name, Parameter Parameter, Tensor Direction);

/// <summary>The last link of every optimizer: turns directions into weight updates, keeping its own state.</summary>
public interface IUpdateRule
{
    /// <summary>Updates each parameter in place from its direction with learning rate <paramref name="lr"/>.</summary>
    void Apply(IReadOnlyList<ParameterDirection> items, double lr);
    /// <summary>Writes the rule's state under <paramref name="prefix"/>.</summary>
    void SaveState(IDictionary<string, Tensor> state, string prefix);
    /// <summary>Restores the rule's state from <paramref name="prefix"/>.</summary>
    void LoadState(IReadOnlyDictionary<string, Tensor> state, string prefix);
}

/// <summary>SGD with momentum (PyTorch's convention, optional Nesterov) and coupled L2 weight decay.</summary>
public sealed class MomentumSgd(double momentum, double weightDecay, bool nesterov = false) : IUpdateRule
{
    readonly Dictionary<string, Tensor> buffers = new();

    /// <inheritdoc />
    public void Apply(IReadOnlyList<ParameterDirection> items, double lr)
    {
        using var noGrad = torch.no_grad();
        foreach (var (name, p, direction) in items)
        {
            using var scope = torch.NewDisposeScope();
            var d = weightDecay != 0 ? direction + p * weightDecay : direction;
            if (momentum != 0)
            {
                if (!buffers.TryGetValue(name, out var buf))
                    buffers[name] = buf = d.clone().DetachFromDisposeScope();
                else
                    buf.mul_(momentum).add_(d);
                d = nesterov ? d + buf * momentum : buf;
            }
            p.add_(d, alpha: -lr);
        }
    }

    /// <inheritdoc />
    public void SaveState(IDictionary<string, Tensor> state, string prefix)
    {
        foreach (var (name, buf) in buffers) state[$"{prefix}momentum/{name}"] = buf;
    }

    /// <inheritdoc />
    public void LoadState(IReadOnlyDictionary<string, Tensor> state, string prefix)
    {
        foreach (var b in buffers.Values) b.Dispose();
        buffers.Clear();
        foreach (var (key, t) in state)
            if (key.StartsWith(prefix + "momentum/", StringComparison.Ordinal))
                buffers[key[(prefix.Length + "momentum/".Length)..]] = t.clone().DetachFromDisposeScope();
    }
}

/// <summary>AdamW (Loshchilov and Hutter): Adam moments with bias correction and decoupled weight decay.</summary>
public sealed class AdamWRule(double beta1, double beta2, double eps, double weightDecay) : IUpdateRule
{
    readonly Dictionary<string, (Tensor M, Tensor V)> moments = new();
    long step;

    /// <inheritdoc />
    public void Apply(IReadOnlyList<ParameterDirection> items, double lr)
    {
        using var noGrad = torch.no_grad();
        step++;
        double c1 = 1 - Math.Pow(beta1, step), c2 = 1 - Math.Pow(beta2, step);
        foreach (var (name, p, g) in items)
        {
            using var scope = torch.NewDisposeScope();
            if (!moments.TryGetValue(name, out var mv))
                moments[name] = mv = (torch.zeros_like(p).DetachFromDisposeScope(), torch.zeros_like(p).DetachFromDisposeScope());
            mv.M.mul_(beta1).add_(g, alpha: 1 - beta1);
            mv.V.mul_(beta2).addcmul_(g, g, value: 1 - beta2);
            if (weightDecay != 0) p.mul_(1 - lr * weightDecay);
            var denom = (mv.V / c2).sqrt_().add_(eps);
            p.addcdiv_(mv.M, denom, value: -lr / c1);
        }
    }

    /// <inheritdoc />
    public void SaveState(IDictionary<string, Tensor> state, string prefix)
    {
        // On the moments' device, like the rest of the state (the CPU before the first step, when there are none).
        state[$"{prefix}step"] = torch.tensor(step, device: moments.Values.Select(m => m.M.device).FirstOrDefault() ?? torch.CPU);
        foreach (var (name, (m, v)) in moments)
        {
            state[$"{prefix}m/{name}"] = m;
            state[$"{prefix}v/{name}"] = v;
        }
    }

    /// <inheritdoc />
    public void LoadState(IReadOnlyDictionary<string, Tensor> state, string prefix)
    {
        foreach (var (m, v) in moments.Values) { m.Dispose(); v.Dispose(); }
        moments.Clear();
        step = state.TryGetValue($"{prefix}step", out var s) ? s.item<long>() : 0;
        foreach (var (key, m) in state)
        {
            if (!key.StartsWith(prefix + "m/", StringComparison.Ordinal)) continue;
            var name = key[(prefix.Length + 2)..];
            moments[name] = (m.clone().DetachFromDisposeScope(), state[$"{prefix}v/{name}"].clone().DetachFromDisposeScope());
        }
    }
}
