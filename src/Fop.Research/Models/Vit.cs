using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Fop.Research.Models;

/// <summary>Hyperparameters of a Vision Transformer.</summary>
public sealed record VitOptions(int ImageSize = 224, int PatchSize = 16, int Dim = 384, int Depth = 6, int Heads = 6, int MlpRatio = 4, int Classes = 100, int Channels = 3)
{
    /// <summary>A small ViT for ImageNet-100 at 224 px (ViT-S width, 6 blocks).</summary>
    public static VitOptions ImageNet100Small { get; } = new();

    /// <summary>Number of parameters the model has, from the architecture alone.</summary>
    public long ParameterCount()
    {
        long d = Dim, tokens = (ImageSize / PatchSize) * (ImageSize / PatchSize) + 1, hidden = Dim * MlpRatio;
        long patch = (long)Channels * PatchSize * PatchSize * d + d;
        long block = 2 * 2 * d + (d * 3 * d + 3 * d) + (d * d + d) + (d * hidden + hidden) + (hidden * d + d);
        return patch + d + tokens * d + Depth * block + 2 * d + (d * Classes + Classes);
    }
}

/// <summary>A Vision Transformer (Dosovitskiy et al. 2021) built from Linear layers so KFAC/FOP can precondition attention and MLPs.</summary>
public sealed class Vit : Module<Tensor, Tensor>
{
    readonly Conv2d patchEmbed;
    readonly Parameter clsToken, positions;
    readonly ModuleList<VitBlock> blocks = new();
    readonly LayerNorm norm;
    readonly Linear head;

    /// <summary>Creates a ViT with the given options.</summary>
    public Vit(VitOptions o) : base(nameof(Vit))
    {
        if (o.ImageSize % o.PatchSize != 0) throw new ArgumentException($"Image size {o.ImageSize} is not a multiple of patch size {o.PatchSize}.");
        if (o.Dim % o.Heads != 0) throw new ArgumentException($"Dim {o.Dim} is not divisible by {o.Heads} heads.");
        patchEmbed = Conv2d(o.Channels, o.Dim, o.PatchSize, stride: o.PatchSize);
        int tokens = (o.ImageSize / o.PatchSize) * (o.ImageSize / o.PatchSize) + 1;
        clsToken = Parameter(torch.zeros(1, 1, o.Dim));
        positions = Parameter(torch.randn(1, tokens, o.Dim) * 0.02);
        for (int i = 0; i < o.Depth; i++) blocks.Add(new VitBlock(o.Dim, o.Heads, o.Dim * o.MlpRatio));
        norm = LayerNorm(o.Dim);
        head = Linear(o.Dim, o.Classes);
        RegisterComponents();
    }

    /// <inheritdoc />
    public override Tensor forward(Tensor input)
    {
        using var scope = NewDisposeScope();
        var x = patchEmbed.call(input).flatten(2).transpose(1, 2);
        x = torch.cat([clsToken.expand(x.shape[0], -1, -1), x], 1) + positions;
        foreach (var block in blocks) x = block.call(x);
        return head.call(norm.call(x[.., 0])).MoveToOuterDisposeScope();
    }
}

/// <summary>Pre-norm transformer block: multi-head self-attention and a GELU MLP, each with a residual.</summary>
internal sealed class VitBlock : Module<Tensor, Tensor>
{
    readonly LayerNorm norm1, norm2;
    readonly Linear qkv, proj, fc1, fc2;
    readonly int heads;

    public VitBlock(int dim, int heads, int hidden) : base(nameof(VitBlock))
    {
        norm1 = LayerNorm(dim);
        qkv = Linear(dim, 3 * dim);
        proj = Linear(dim, dim);
        norm2 = LayerNorm(dim);
        fc1 = Linear(dim, hidden);
        fc2 = Linear(hidden, dim);
        this.heads = heads;
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        long b = x.shape[0], t = x.shape[1], d = x.shape[2];
        var q3 = qkv.call(norm1.call(x)).view(b, t, 3, heads, d / heads).permute(2, 0, 3, 1, 4);
        var attention = functional.scaled_dot_product_attention(q3[0], q3[1], q3[2]);
        x = x + proj.call(attention.transpose(1, 2).reshape(b, t, d));
        x = x + fc2.call(functional.gelu(fc1.call(norm2.call(x))));
        return x.MoveToOuterDisposeScope();
    }
}
