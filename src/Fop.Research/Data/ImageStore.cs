using TorchSharp;
using static TorchSharp.torch;

namespace Fop.Research.Data;

/// <summary>How a batch's images are cut from their source: the evaluation view or the training view of a seeded step.</summary>
/// <param name="Train">Training view: a streamed folder draws a random resized crop per image; tensors are returned as stored.</param>
/// <param name="Seed">Seed of the draws (run seed, then epoch and step mixed in by <see cref="BatchOrder"/>).</param>
public readonly record struct ImageView(bool Train, long Seed)
{
    /// <summary>The evaluation view: resize and centre crop, no randomness.</summary>
    public static ImageView Eval => default;
}

/// <summary>Where a data set's pixels live: a uint8 tensor (in memory or on the device) or image files read per batch.</summary>
public abstract class ImageStore : IDisposable
{
    /// <summary>Number of examples.</summary>
    public abstract long Count { get; }
    /// <summary>Shape of one example (C, H, W).</summary>
    public abstract long[] ExampleShape { get; }
    /// <summary>The device the pixels are read to by default (where a tensor store lives; the CPU for files).</summary>
    public abstract Device Device { get; }

    /// <summary>
    /// uint8 (k, C, H, W) pixels of the examples at <paramref name="indices"/> (int64), on the store's device, and the
    /// positions within <paramref name="indices"/> that they are (null: all of them, in order; files that cannot be decoded
    /// are left out when the store skips them).
    /// </summary>
    public abstract (Tensor Pixels, long[]? Kept) Read(Tensor indices, ImageView view);

    /// <summary>A store of the examples at <paramref name="indices"/> (int64), sharing nothing mutable with this one.</summary>
    public abstract ImageStore Subset(Tensor indices);

    /// <inheritdoc />
    public abstract void Dispose();
}

/// <summary>Pixels held as one uint8 (N, C, H, W) tensor, on the CPU or on the model's device.</summary>
public sealed class TensorImageStore : ImageStore
{
    /// <summary>Takes ownership of <paramref name="images"/>.</summary>
    public TensorImageStore(Tensor images)
    {
        if (images.dim() != 4) throw new ArgumentException($"images must be (N, C, H, W), got [{string.Join(", ", images.shape)}].");
        Images = images.DetachFromDisposeScope();
    }

    /// <summary>The images, uint8 (N, C, H, W).</summary>
    public Tensor Images { get; }
    /// <inheritdoc />
    public override long Count => Images.shape[0];
    /// <inheritdoc />
    public override long[] ExampleShape => Images.shape[1..];
    /// <inheritdoc />
    public override Device Device => Images.device;

    /// <inheritdoc />
    public override (Tensor Pixels, long[]? Kept) Read(Tensor indices, ImageView view)
    {
        using var onDevice = Devices.DeviceSyncs.To(indices, Images.device);
        return (Images.index_select(0, onDevice), null);
    }

    /// <inheritdoc />
    public override ImageStore Subset(Tensor indices)
    {
        using var onDevice = Devices.DeviceSyncs.To(indices, Images.device);
        return new TensorImageStore(Images.index_select(0, onDevice));
    }

    /// <summary>A copy on <paramref name="device"/> (uint8: a quarter of the float size).</summary>
    public TensorImageStore To(Device device) => new(Images.to(device));

    /// <inheritdoc />
    public override void Dispose() => Images.Dispose();
}
