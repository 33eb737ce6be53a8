using TorchSharp;
using static TorchSharp.torch;

namespace Fop.Research.Curvature;

/// <summary>
/// Forward hooks on the preconditioned layers that, only while <see cref="Active"/>, keep each layer's input
/// and an alias of its output whose gradient can be read after backward (TorchSharp has no backward hooks).
/// Inactive, the hooks return at once and cost nothing.
/// </summary>
public sealed class CurvatureCapture : IDisposable
{
    readonly List<Action> removeHooks = new();
    readonly List<Tensor>[] inputs, outputs;

    /// <summary>Registers a forward hook on every layer.</summary>
    public CurvatureCapture(IReadOnlyList<PreconditionedLayer> layers)
    {
        Layers = layers;
        inputs = layers.Select(_ => new List<Tensor>()).ToArray();
        outputs = layers.Select(_ => new List<Tensor>()).ToArray();
        for (int i = 0; i < layers.Count; i++)
        {
            int index = i;
            var remover = layers[i].Module.register_forward_hook((module, input, output) => OnForward(index, input, output));
            removeHooks.Add(remover.remove);
        }
    }

    /// <summary>The layers being watched.</summary>
    public IReadOnlyList<PreconditionedLayer> Layers { get; }
    /// <summary>Whether the next forward passes are recorded.</summary>
    public bool Active { get; set; }
    /// <summary>Whether recorded outputs keep their gradient from the main backward (needed for the empirical Fisher).</summary>
    public bool RetainOutputGradients { get; set; }

    Tensor OnForward(int index, Tensor input, Tensor output)
    {
        if (!Active) return output;
        // Kept tensors leave the module's dispose scope; Clear() disposes them.
        inputs[index].Add(input.detach().DetachFromDisposeScope());
        var keep = output.alias().DetachFromDisposeScope();
        if (RetainOutputGradients) keep.retain_grad();
        outputs[index].Add(keep);
        return keep.alias();
    }

    /// <summary>Inputs recorded for layer <paramref name="index"/> since the last <see cref="Clear"/> (one per call of the layer).</summary>
    public IReadOnlyList<Tensor> InputsOf(int index) => inputs[index];
    /// <summary>Output aliases recorded for layer <paramref name="index"/>.</summary>
    public IReadOnlyList<Tensor> OutputsOf(int index) => outputs[index];
    /// <summary>Every recorded output alias, layer by layer (for torch.autograd.grad).</summary>
    public IReadOnlyList<Tensor> AllOutputs() => outputs.SelectMany(o => o).ToList();

    /// <summary>Throws when a registered layer saw no input during the recorded forward pass.</summary>
    public void EnsureAllLayersSeen()
    {
        var missing = Layers.Where((_, i) => inputs[i].Count == 0).Select(l => l.Name).ToArray();
        if (missing.Length > 0)
            throw new InvalidOperationException(
                $"Curvature capture: layer(s) {string.Join(", ", missing)} saw no input during the forward pass. " +
                "Call submodules with call() (hooks do not fire through forward()), or exclude these layers.");
    }

    /// <summary>Drops everything recorded.</summary>
    public void Clear()
    {
        foreach (var list in inputs.Concat(outputs))
        {
            foreach (var t in list) t.Dispose();
            list.Clear();
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        Clear();
        foreach (var remove in removeHooks) remove();
        removeHooks.Clear();
    }
}
