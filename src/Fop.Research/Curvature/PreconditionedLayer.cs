using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Fop.Research.Curvature;

/// <summary>
/// A Linear or Conv2d layer seen as one matrix of shape (out, in [+1]): for Conv2d, in = c_in*kh*kw in
/// unfold's order; a bias is folded in as the last column (the homogeneous coordinate of the input).
/// </summary>
public sealed class PreconditionedLayer
{
    PreconditionedLayer(string name, Module<Tensor, Tensor> module, Parameter weight, Parameter? bias, Conv2d? conv)
    {
        Name = name;
        Module = module;
        Weight = weight;
        Bias = bias;
        Conv = conv;
        OutFeatures = weight.shape[0];
        InFeatures = weight.numel() / OutFeatures;
    }

    /// <summary>The layer's name in <c>named_modules()</c>.</summary>
    public string Name { get; }
    /// <summary>The Linear or Conv2d module.</summary>
    public Module<Tensor, Tensor> Module { get; }
    /// <summary>Weight parameter.</summary>
    public Parameter Weight { get; }
    /// <summary>Bias parameter, or null.</summary>
    public Parameter? Bias { get; }
    /// <summary>The convolution (null for Linear).</summary>
    public Conv2d? Conv { get; }
    /// <summary>Rows of the layer matrix (output features or channels).</summary>
    public long OutFeatures { get; }
    /// <summary>Columns of the weight alone (input features, or c_in*kh*kw).</summary>
    public long InFeatures { get; }
    /// <summary>Dimension of the input factor A (columns including the bias column).</summary>
    public long InDim => InFeatures + (Bias is null ? 0 : 1);
    /// <summary>The layer's parameters (weight, then bias when present).</summary>
    public IEnumerable<Parameter> Parameters => Bias is null ? [Weight] : [Weight, Bias];

    /// <summary>Wraps a module when it is a Linear or a groups=1 Conv2d; returns null for any other module and explains unsupported convolutions.</summary>
    public static PreconditionedLayer? TryCreate(string name, Module module, out string? unsupportedReason)
    {
        unsupportedReason = null;
        switch (module)
        {
            case Linear linear:
                return new PreconditionedLayer(name, linear, linear.weight!, linear.bias, null);
            case Conv2d conv when conv.groups != 1:
                unsupportedReason = $"{name}: Conv2d with groups={conv.groups} (only groups=1 is supported)";
                return null;
            case Conv2d conv when conv.padding_mode != PaddingModes.Zeros:
                unsupportedReason = $"{name}: Conv2d with padding mode {conv.padding_mode} (only zeros is supported)";
                return null;
            case Conv2d conv:
                return new PreconditionedLayer(name, conv, conv.weight!, conv.bias, conv);
            default:
                return null;
        }
    }

    /// <summary>
    /// Input rows a of the Kronecker factor A: (rows, InDim), one row per example (Linear) or per example and output
    /// position (Conv2d); <paramref name="positions"/> (int64 indices into the output positions) keeps only those positions.
    /// </summary>
    public Tensor InputRows(Tensor input, Tensor? positions = null)
    {
        Tensor rows;
        if (Conv is null)
        {
            rows = input.reshape(-1, input.shape[^1]);
        }
        else
        {
            var c = Conv;
            var padding = c.padding ?? throw new NotSupportedException($"{Name}: string padding modes ('same'/'valid') are not supported by curvature capture.");
            using var all = functional.unfold(input, (c.kernel_size[0], c.kernel_size[1]), (c.dilation[0], c.dilation[1]), (padding[0], padding[1]), (c.stride[0], c.stride[1]));
            using var patches = positions is null ? all.alias() : all.index_select(2, positions);
            rows = patches.transpose(1, 2).reshape(-1, patches.shape[1]);
        }
        if (Bias is null) return rows;
        using (rows)
        {
            using var ones = torch.ones(rows.shape[0], 1, dtype: rows.dtype, device: rows.device);
            return torch.cat([rows, ones], 1);
        }
    }

    /// <summary>Output-gradient rows g of the factor G: (rows, OutFeatures), per example (Linear) or per example and position (Conv2d).</summary>
    public Tensor OutputRows(Tensor gradOutput) =>
        Conv is null
            ? gradOutput.reshape(-1, gradOutput.shape[^1])
            : gradOutput.flatten(2).transpose(1, 2).reshape(-1, gradOutput.shape[1]);

    /// <summary>The layer matrix built from per-parameter tensors (weight-shaped and bias-shaped): (OutFeatures, InDim).</summary>
    public Tensor ToMatrix(Tensor weightPart, Tensor? biasPart)
    {
        var w = weightPart.reshape(OutFeatures, InFeatures);
        if (Bias is null) return w;
        using (w) return torch.cat([w, biasPart!.reshape(OutFeatures, 1)], 1);
    }

    /// <summary>The gradient of the layer as a matrix (OutFeatures, InDim).</summary>
    public Tensor GradientMatrix()
    {
        using var gw = Weight.grad ?? throw new InvalidOperationException($"{Name}: weight has no gradient.");
        using var gb = Bias?.grad;
        if (Bias is not null && gb is null) throw new InvalidOperationException($"{Name}: bias has no gradient.");
        return ToMatrix(gw, gb);
    }

    /// <summary>Splits a layer matrix back into (weight-shaped, bias-shaped or null) tensors.</summary>
    public (Tensor Weight, Tensor? Bias) FromMatrix(Tensor matrix)
    {
        var w = matrix.narrow(1, 0, InFeatures).reshape(Weight.shape);
        var b = Bias is null ? null : matrix.narrow(1, InFeatures, 1).reshape(Bias.shape);
        return (w, b);
    }

    /// <inheritdoc />
    public override string ToString() => $"{Name} ({(Conv is null ? "Linear" : "Conv2d")} {OutFeatures}x{InDim})";
}
