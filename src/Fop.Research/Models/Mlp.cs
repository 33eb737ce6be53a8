using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Fop.Research.Models;

/// <summary>A fully connected ReLU network on flattened inputs.</summary>
public sealed class Mlp : Module<Tensor, Tensor>
{
    readonly ModuleList<Linear> layers = new();

    /// <summary>Creates inputs -> hidden[0] -> ... -> classes, ReLU between layers.</summary>
    public Mlp(int inputs, IReadOnlyList<int> hidden, int classes) : base(nameof(Mlp))
    {
        var width = inputs;
        foreach (var h in hidden.Append(classes))
        {
            if (h <= 0) throw new ArgumentException($"Layer widths must be positive, got {h}.");
            layers.Add(Linear(width, h));
            width = h;
        }
        RegisterComponents();
    }

    /// <inheritdoc />
    public override Tensor forward(Tensor input)
    {
        using var scope = NewDisposeScope();
        var x = input.flatten(1);
        for (int i = 0; i < layers.Count; i++)
        {
            x = layers[i].call(x);
            if (i < layers.Count - 1) x = functional.relu(x);
        }
        return x.MoveToOuterDisposeScope();
    }
}
