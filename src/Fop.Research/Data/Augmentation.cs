using TorchSharp;
using static TorchSharp.torch;
using Fop.Research.Randomness;

namespace Fop.Research.Data;

/// <summary>Training-time augmentation applied to a whole float batch at once (no per-sample loop).</summary>
/// <param name="CropPadding">Zero padding before a random crop back to the original size; 0 turns cropping off.</param>
/// <param name="HorizontalFlip">Flip each image left-right with probability 1/2.</param>
public sealed record Augmentation(int CropPadding = 0, bool HorizontalFlip = false)
{
    /// <summary>No augmentation.</summary>
    public static Augmentation None { get; } = new();
    /// <summary>The standard CIFAR recipe: 4-pixel padded random crop and horizontal flip.</summary>
    public static Augmentation Cifar { get; } = new(4, true);

    /// <summary>True when the augmentation changes anything.</summary>
    public bool IsIdentity => CropPadding == 0 && !HorizontalFlip;

    /// <summary>Returns an augmented copy of the (N, C, H, W) batch, computed on its device; randomness comes only from <paramref name="random"/>.</summary>
    public Tensor Apply(Tensor x, SeededRandom random)
    {
        if (CropPadding < 0) throw new ArgumentOutOfRangeException(nameof(CropPadding), CropPadding, "Crop padding must be >= 0.");
        using var scope = torch.NewDisposeScope();
        var y = x;
        long n = x.shape[0], c = x.shape[1], h = x.shape[2], w = x.shape[3];
        if (CropPadding > 0)
        {
            int p = CropPadding;
            var padded = torch.nn.functional.pad(x, [p, p, p, p]);
            var oy = random.Integers(0, 2 * p + 1, [n], x.device);
            var ox = random.Integers(0, 2 * p + 1, [n], x.device);
            var rows = (oy.view(n, 1) + torch.arange(h, dtype: ScalarType.Int64, device: x.device).view(1, h)).view(n, 1, h, 1).expand(n, c, h, w + 2 * p);
            var cols = (ox.view(n, 1) + torch.arange(w, dtype: ScalarType.Int64, device: x.device).view(1, w)).view(n, 1, 1, w).expand(n, c, h, w);
            y = padded.gather(2, rows).gather(3, cols);
        }
        if (HorizontalFlip)
        {
            var flip = random.Uniform([n], x.device).lt(0.5).view(n, 1, 1, 1);
            y = torch.where(flip, y.flip(3), y);
        }
        return (ReferenceEquals(y, x) ? x.clone() : y).MoveToOuterDisposeScope();
    }
}
