using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Fop.Research.Diagnostics;

/// <summary>
/// A direction in a model's parameter space: one tensor per trainable parameter, by name. The landscape, sharpness and
/// gradient-noise views all work with these, so a direction from one (a gradient, an update) can be drawn by another.
/// </summary>
public sealed class ParameterVector : IDisposable
{
    readonly Dictionary<string, Tensor> parts;

    /// <summary>Wraps tensors it takes ownership of (detached).</summary>
    public ParameterVector(IEnumerable<(string Name, Tensor Value)> parts) =>
        this.parts = parts.ToDictionary(p => p.Name, p => p.Value.detach().DetachFromDisposeScope());

    /// <summary>Parameter names, in the model's order.</summary>
    public IReadOnlyCollection<string> Names => parts.Keys;
    /// <summary>The part of one parameter.</summary>
    public Tensor this[string name] => parts[name];

    /// <summary>The model's trainable parameters (cloned).</summary>
    public static ParameterVector Of(Module model) => new(model.named_parameters().Where(p => p.parameter.requires_grad).Select(p => (p.name, p.parameter.detach().clone())));

    /// <summary>a * this + b * other, a new vector.</summary>
    public ParameterVector Combine(double a, ParameterVector other, double b) => new(parts.Select(kv => (kv.Key, kv.Value * a + other[kv.Key] * b)));

    /// <summary>this * a, a new vector.</summary>
    public ParameterVector Scale(double a) => new(parts.Select(kv => (kv.Key, kv.Value * a)));

    /// <summary>The Euclidean inner product over all parameters (float64 accumulation).</summary>
    public double Dot(ParameterVector other) => parts.Sum(kv => { using var d = (kv.Value.to_type(ScalarType.Float64) * other[kv.Key].to_type(ScalarType.Float64)).sum(); return d.item<double>(); });

    /// <summary>The Euclidean norm.</summary>
    public double Norm() => Math.Sqrt(Dot(this));

    /// <summary>Writes origin + a * d1 (+ b * d2) into the model's parameters (no gradient is recorded).</summary>
    public static void Assign(Module model, ParameterVector origin, ParameterVector? d1 = null, double a = 0, ParameterVector? d2 = null, double b = 0)
    {
        using var noGrad = torch.no_grad();
        foreach (var (name, p) in model.named_parameters())
        {
            if (!origin.parts.TryGetValue(name, out var o)) continue;
            p.copy_(o);
            if (d1 is not null && a != 0) p.add_(d1[name], alpha: a);
            if (d2 is not null && b != 0) p.add_(d2[name], alpha: b);
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        foreach (var t in parts.Values) t.Dispose();
        parts.Clear();
    }
}
