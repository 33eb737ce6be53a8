using Fop.Research.Curvature;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Fop.Research.Optim;

/// <summary>Which trainable parameter is which preconditioned layer's weight or bias; built once per optimizer, read every step.</summary>
public sealed class LayerMap
{
    readonly (int Layer, bool IsBias)?[] owners;
    readonly (int Weight, int? Bias)[] indices;

    /// <summary>Maps <paramref name="layers"/> onto positions in <paramref name="parameters"/>.</summary>
    public LayerMap(IReadOnlyList<PreconditionedLayer> layers, IReadOnlyList<(string Name, Parameter Parameter)> parameters)
    {
        var position = new Dictionary<Parameter, int>(ReferenceEqualityComparer.Instance);
        for (int i = 0; i < parameters.Count; i++) position[parameters[i].Parameter] = i;
        owners = new (int, bool)?[parameters.Count];
        indices = new (int, int?)[layers.Count];
        for (int l = 0; l < layers.Count; l++)
        {
            int w = position[layers[l].Weight];
            int? b = layers[l].Bias is { } bias ? position[bias] : null;
            indices[l] = (w, b);
            owners[w] = (l, false);
            if (b is int bi) owners[bi] = (l, true);
        }
        Layers = layers;
    }

    /// <summary>The preconditioned layers, in curvature order.</summary>
    public IReadOnlyList<PreconditionedLayer> Layers { get; }

    /// <summary>The layer (and whether as its bias) that parameter <paramref name="parameter"/> belongs to; null for a parameter without a Kronecker block.</summary>
    public (int Layer, bool IsBias)? Owner(int parameter) => owners[parameter];

    /// <summary>Layer <paramref name="layer"/>'s matrix (weight with the bias as last column) from per-parameter tensors (gradients, g1, g2).</summary>
    public Tensor Matrix(int layer, IReadOnlyList<Tensor> perParameter)
    {
        var (w, b) = indices[layer];
        return Layers[layer].ToMatrix(perParameter[w], b is int bi ? perParameter[bi] : null);
    }
}
