using TorchSharp;
using static TorchSharp.torch;

namespace Fop.Research.Data;

/// <summary>An image classification set: pixels in an <see cref="ImageStore"/> (a uint8 tensor, or image files streamed per batch) and int64 labels (N).</summary>
/// <remarks>Pixels stay uint8 (4x smaller than float) and become float only batch by batch, on the device they are read to.</remarks>
public sealed class ImageDataset : IDisposable
{
    /// <summary>Creates an in-memory data set from uint8 (N, C, H, W) images and labels it takes ownership of.</summary>
    public ImageDataset(string name, Tensor images, Tensor labels, int numClasses, Normalization normalization)
        : this(name, WrapImages(name, images), labels, numClasses, normalization) { }

    /// <summary>Creates a data set over <paramref name="store"/> and labels, taking ownership of both.</summary>
    public ImageDataset(string name, ImageStore store, Tensor labels, int numClasses, Normalization normalization)
    {
        if (labels.dim() != 1 || labels.shape[0] != store.Count)
            throw new ArgumentException($"{name}: {labels.shape[0]} labels for {store.Count} images.");
        if (labels.shape[0] > 0)
        {
            using var min = labels.min();
            using var max = labels.max();
            long lo = min.to_type(ScalarType.Int64).item<long>(), hi = max.to_type(ScalarType.Int64).item<long>();
            // An out-of-range label would reach the loss and abort the process in native code: stop it here.
            if (lo < 0 || hi >= numClasses) throw new InvalidDataException($"{name}: labels span {lo}..{hi}, outside the {numClasses} classes 0..{numClasses - 1} (corrupt label file?).");
        }
        Name = name;
        Store = store;
        Labels = labels.to_type(ScalarType.Int64).DetachFromDisposeScope();
        NumClasses = numClasses;
        Normalization = normalization;
    }

    static TensorImageStore WrapImages(string name, Tensor images) =>
        images.dim() == 4 ? new TensorImageStore(images) : throw new ArgumentException($"{name}: images must be (N, C, H, W), got [{string.Join(", ", images.shape)}].");

    /// <summary>Name used in messages and run folders, e.g. "fashion-mnist/train".</summary>
    public string Name { get; }
    /// <summary>Where the pixels live.</summary>
    public ImageStore Store { get; }
    /// <summary>Images, uint8 (N, C, H, W), for a data set held as a tensor; a streamed folder has none (read batches with <see cref="Batch"/>).</summary>
    public Tensor Images => (Store as TensorImageStore)?.Images
        ?? throw new InvalidOperationException($"{Name} is streamed from image files and has no in-memory tensor; read batches with Batch(indices).");
    /// <summary>Class labels, int64 (N), on the device of the pixels.</summary>
    public Tensor Labels { get; }
    /// <summary>Number of classes of the task (not only those present).</summary>
    public int NumClasses { get; }
    /// <summary>Per-channel mean and standard deviation applied to every batch.</summary>
    public Normalization Normalization { get; }
    /// <summary>Number of examples.</summary>
    public int Count => (int)Store.Count;
    /// <summary>Shape of one example (C, H, W).</summary>
    public long[] ExampleShape => Store.ExampleShape;
    /// <summary>Whether the pixels are read from files batch by batch (so a batch is worth preparing in the background).</summary>
    public bool Streamed => Store is not TensorImageStore;

    /// <summary>Examples per class, in class order.</summary>
    public long[] ClassCounts()
    {
        using var cpu = Labels.cpu();
        using var counts = torch.bincount(cpu, minlength: NumClasses);
        return counts.data<long>().ToArray();
    }

    /// <summary>A new data set holding the examples at <paramref name="indices"/> (int64 tensor).</summary>
    public ImageDataset Subset(Tensor indices, string? name = null)
    {
        using var onLabels = Devices.DeviceSyncs.To(indices, Labels.device);
        return new(name ?? Name, Store.Subset(indices), Labels.index_select(0, onLabels), NumClasses, Normalization);
    }

    /// <summary>The first <paramref name="count"/> examples (all when count is 0 or larger than the set).</summary>
    public ImageDataset Take(int count)
    {
        if (count <= 0 || count >= Count) return Subset(torch.arange(Count, dtype: ScalarType.Int64));
        return Subset(torch.arange(count, dtype: ScalarType.Int64), Name);
    }

    /// <summary>
    /// The data set with its pixels and labels on <paramref name="device"/> (uint8, so indexing, augmentation and
    /// normalisation happen there); a streamed folder stays on files and is returned as is (not a copy).
    /// </summary>
    public ImageDataset To(Device device) =>
        Store is TensorImageStore tensors ? new ImageDataset(Name, tensors.To(device), Labels.to(device), NumClasses, Normalization) : this;

    /// <summary>
    /// The examples at <paramref name="indices"/> as normalised float images and their labels, both on <paramref name="device"/>
    /// (default: where the pixels are). Examples a streamed folder could not decode (skip mode) are left out of both.
    /// </summary>
    public (Tensor Images, Tensor Labels) Batch(Tensor indices, ImageView view = default, Device? device = null, ScalarType dtype = ScalarType.Float32)
    {
        using var scope = torch.NewDisposeScope();
        device ??= Store.Device;
        var (pixels, kept) = Store.Read(indices, view);
        var index = kept is null ? indices : indices.index_select(0, Devices.DeviceSyncs.FromHost(kept, indices.device));
        var labels = Devices.DeviceSyncs.To(Labels.index_select(0, Devices.DeviceSyncs.To(index, Labels.device)), device);
        // Files arrive in host memory: pin them so the copy to a GPU can overlap with work already queued there.
        pixels = Devices.DeviceSyncs.To(pixels, device);
        var images = Normalization.Apply(pixels.to_type(dtype).div_(255.0));
        return (images.MoveToOuterDisposeScope(), labels.MoveToOuterDisposeScope());
    }

    /// <summary>Float images in [0, 1] then normalised, for the examples at <paramref name="indices"/> (a streamed folder must decode every one of them).</summary>
    public Tensor FloatImages(Tensor indices, ScalarType dtype = ScalarType.Float32)
    {
        var (images, labels) = Batch(indices, dtype: dtype);
        using var _ = labels;
        if (images.shape[0] != indices.shape[0]) { images.Dispose(); throw new InvalidDataException($"{Name}: some images of this batch could not be decoded; use Batch to get the matching labels."); }
        return images;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        Store.Dispose();
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
        // Copied without a wait: a blocking copy of two constants would stall every batch on a GPU.
        var mean = Devices.DeviceSyncs.FromHost(Mean, x.dtype, x.device).view(1, c, 1, 1);
        var std = Devices.DeviceSyncs.FromHost(Std, x.dtype, x.device).view(1, c, 1, 1);
        x.sub_(mean).div_(std);
        return x;
    }
}
