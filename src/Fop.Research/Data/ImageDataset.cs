using TorchSharp;
using static TorchSharp.torch;

namespace Fop.Research.Data;

/// <summary>An in-memory image classification set: uint8 images (N, C, H, W) and int64 labels (N).</summary>
/// <remarks>Images stay uint8 (4x smaller than float) and become float only batch by batch.</remarks>
public sealed class ImageDataset : IDisposable
{
    /// <summary>Creates a data set from tensors it takes ownership of.</summary>
    public ImageDataset(string name, Tensor images, Tensor labels, int numClasses, Normalization normalization)
    {
        if (images.dim() != 4) throw new ArgumentException($"{name}: images must be (N, C, H, W), got [{string.Join(", ", images.shape)}].");
        if (labels.dim() != 1 || labels.shape[0] != images.shape[0])
            throw new ArgumentException($"{name}: {labels.shape[0]} labels for {images.shape[0]} images.");
        if (labels.shape[0] > 0)
        {
            using var min = labels.min();
            using var max = labels.max();
            long lo = min.to_type(ScalarType.Int64).item<long>(), hi = max.to_type(ScalarType.Int64).item<long>();
            // An out-of-range label would reach the loss and abort the process in native code: stop it here.
            if (lo < 0 || hi >= numClasses) throw new InvalidDataException($"{name}: labels span {lo}..{hi}, outside the {numClasses} classes 0..{numClasses - 1} (corrupt label file?).");
        }
        Name = name;
        Images = images.DetachFromDisposeScope();
        Labels = labels.to_type(ScalarType.Int64).DetachFromDisposeScope();
        NumClasses = numClasses;
        Normalization = normalization;
    }

    /// <summary>Name used in messages and run folders, e.g. "fashion-mnist/train".</summary>
    public string Name { get; }
    /// <summary>Images, uint8 (N, C, H, W).</summary>
    public Tensor Images { get; }
    /// <summary>Class labels, int64 (N).</summary>
    public Tensor Labels { get; }
    /// <summary>Number of classes of the task (not only those present).</summary>
    public int NumClasses { get; }
    /// <summary>Per-channel mean and standard deviation applied to every batch.</summary>
    public Normalization Normalization { get; }
    /// <summary>Number of examples.</summary>
    public int Count => (int)Images.shape[0];
    /// <summary>Shape of one example (C, H, W).</summary>
    public long[] ExampleShape => Images.shape[1..];

    /// <summary>Examples per class, in class order.</summary>
    public long[] ClassCounts()
    {
        using var counts = torch.bincount(Labels, minlength: NumClasses);
        return counts.data<long>().ToArray();
    }

    /// <summary>A new data set holding the examples at <paramref name="indices"/> (int64 tensor).</summary>
    public ImageDataset Subset(Tensor indices, string? name = null) =>
        new(name ?? Name, Images.index_select(0, indices), Labels.index_select(0, indices), NumClasses, Normalization);

    /// <summary>The first <paramref name="count"/> examples (all when count is 0 or larger than the set).</summary>
    public ImageDataset Take(int count)
    {
        if (count <= 0 || count >= Count) return Subset(torch.arange(Count, dtype: ScalarType.Int64));
        return Subset(torch.arange(count, dtype: ScalarType.Int64), Name);
    }

    /// <summary>Float images in [0, 1] then normalised, for the examples at <paramref name="indices"/>.</summary>
    public Tensor FloatImages(Tensor indices, ScalarType dtype = ScalarType.Float32)
    {
        using var raw = Images.index_select(0, indices);
        return Normalization.Apply(raw.to_type(dtype).div_(255.0));
    }

    /// <inheritdoc />
    public void Dispose()
    {
        Images.Dispose();
        Labels.Dispose();
    }
}

/// <summary>Per-channel normalisation constants.</summary>
public sealed record Normalization(double[] Mean, double[] Std)
{
    /// <summary>Fashion-MNIST training-set statistics.</summary>
    public static Normalization FashionMnist { get; } = new([0.2860], [0.3530]);
    /// <summary>CIFAR-10 training-set statistics.</summary>
    public static Normalization Cifar10 { get; } = new([0.4914, 0.4822, 0.4465], [0.2470, 0.2435, 0.2616]);
    /// <summary>CIFAR-100 training-set statistics.</summary>
    public static Normalization Cifar100 { get; } = new([0.5071, 0.4865, 0.4409], [0.2673, 0.2564, 0.2762]);
    /// <summary>ImageNet statistics (also used for ImageNet-100 and image folders).</summary>
    public static Normalization ImageNet { get; } = new([0.485, 0.456, 0.406], [0.229, 0.224, 0.225]);

    /// <summary>Normalises a float (N, C, H, W) batch in place and returns it.</summary>
    public Tensor Apply(Tensor x)
    {
        using var scope = torch.NewDisposeScope();
        var c = Mean.Length;
        var mean = torch.tensor(Mean, dtype: x.dtype).view(1, c, 1, 1);
        var std = torch.tensor(Std, dtype: x.dtype).view(1, c, 1, 1);
        x.sub_(mean).div_(std);
        return x;
    }
}
