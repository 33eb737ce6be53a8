using System.Collections.Concurrent;
using SkiaSharp;
using TorchSharp;
using static TorchSharp.torch;

namespace Fop.Research.Data;

/// <summary>What a streamed image folder does with a file it cannot decode.</summary>
public enum CorruptImages
{
    /// <summary>Stop with an error naming the file.</summary>
    Error,
    /// <summary>Leave the example out of its batch, with one warning naming the file.</summary>
    Skip,
}

/// <summary>
/// Image files decoded batch by batch (SkiaSharp, in parallel): memory holds the file list and one batch, whatever the
/// size of the folder. The evaluation view resizes the shorter side to <see cref="Resize"/> and centre-crops
/// <see cref="Size"/>; the training view takes a random resized crop (area 8-100%, aspect 3/4-4/3, as torchvision's
/// RandomResizedCrop) drawn from the view's seed and the example's index, so a batch is the same on every run and thread count.
/// </summary>
public sealed class ImageFolderStore : ImageStore
{
    readonly string[] files;
    readonly ConcurrentDictionary<string, string> corrupt;

    /// <summary>A store over <paramref name="files"/> (decoded to 3 x size x size).</summary>
    public ImageFolderStore(IReadOnlyList<string> files, int resize, int size, CorruptImages onCorrupt = CorruptImages.Error, Action<string>? onWarning = null)
        : this(files.ToArray(), resize, size, onCorrupt, onWarning, new ConcurrentDictionary<string, string>()) { }

    ImageFolderStore(string[] files, int resize, int size, CorruptImages onCorrupt, Action<string>? onWarning, ConcurrentDictionary<string, string> corrupt)
    {
        if (size <= 0 || size > resize) throw new ArgumentException($"crop size {size} must be positive and at most the resize {resize}.");
        if (!Enum.IsDefined(onCorrupt)) throw new ArgumentOutOfRangeException(nameof(onCorrupt), onCorrupt, "corrupt images must be error or skip.");
        this.files = files;
        this.corrupt = corrupt;
        Resize = resize;
        Size = size;
        OnCorrupt = onCorrupt;
        OnWarning = onWarning;
    }

    /// <summary>Shorter side before the evaluation centre crop.</summary>
    public int Resize { get; }
    /// <summary>Side of the square images returned.</summary>
    public int Size { get; }
    /// <summary>Skip or stop on an undecodable file.</summary>
    public CorruptImages OnCorrupt { get; }
    /// <summary>Told once per skipped file.</summary>
    public Action<string>? OnWarning { get; }
    /// <summary>Files left out so far (skip mode), with the reason.</summary>
    public IReadOnlyDictionary<string, string> Corrupt => corrupt;
    /// <summary>The image files, in example order.</summary>
    public IReadOnlyList<string> Files => files;
    /// <inheritdoc />
    public override long Count => files.Length;
    /// <inheritdoc />
    public override long[] ExampleShape => [3, Size, Size];
    /// <inheritdoc />
    public override Device Device => torch.CPU;

    /// <inheritdoc />
    public override (Tensor Pixels, long[]? Kept) Read(Tensor indices, ImageView view)
    {
        var index = indices.to(torch.CPU).data<long>().ToArray();
        int plane = 3 * Size * Size;
        var pixels = new byte[(long)index.Length * plane];
        var ok = new bool[index.Length];
        try { Parallel.For(0, index.Length, new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount }, i =>
        {
            var file = files[index[i]];
            try
            {
                Decode(file, view.Train ? new Random(Seed(view.Seed, index[i])) : null, pixels.AsSpan((int)((long)i * plane), plane));
                ok[i] = true;
            }
            catch (InvalidDataException e) when (OnCorrupt == CorruptImages.Skip)
            {
                if (corrupt.TryAdd(file, e.Message)) OnWarning?.Invoke($"warning: {e.Message} Left out of every batch (corrupt_images = skip).");
            }
        }); }
        catch (AggregateException e) when (e.InnerExceptions.FirstOrDefault(x => x is InvalidDataException) is { } bad) { System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(bad); }
        var kept = Enumerable.Range(0, index.Length).Where(i => ok[i]).Select(i => (long)i).ToArray();
        // Skipping corrupt files must not turn into training or evaluating on nothing: a batch with no usable image stops the run.
        if (index.Length > 0 && kept.Length == 0)
            throw new InvalidDataException($"{Path.GetDirectoryName(Path.GetDirectoryName(files[index[0]]))}: none of the {index.Length} images of a batch could be decoded " +
                $"({corrupt.Count} corrupt files left out so far, e.g. {corrupt.Keys.First()}): too few usable examples. Replace or remove the corrupt files.");
        var tensor = torch.tensor(kept.Length == index.Length ? pixels : kept.SelectMany(i => pixels.AsSpan((int)(i * plane), plane).ToArray()).ToArray(), dtype: ScalarType.Byte)
            .view(kept.Length, 3, Size, Size);
        return (tensor, kept.Length == index.Length ? null : kept);
    }

    /// <inheritdoc />
    public override ImageStore Subset(Tensor indices) =>
        new ImageFolderStore(indices.to(torch.CPU).data<long>().Select(i => files[i]).ToArray(), Resize, Size, OnCorrupt, OnWarning, corrupt);

    /// <inheritdoc />
    public override void Dispose() { }

    static int Seed(long seed, long example) => (int)(BatchOrder.StreamSeed(seed, example) & 0x7FFFFFFF);

    /// <summary>Decodes <paramref name="path"/> into CHW bytes: the training crop when <paramref name="random"/> is given, else resize and centre crop.</summary>
    void Decode(string path, Random? random, Span<byte> chw)
    {
        SKBitmap? decoded;
        try { decoded = SKBitmap.Decode(path); }
        catch (Exception e) when (e is not OutOfMemoryException) { throw new InvalidDataException($"{path}: not a decodable JPEG/PNG image ({e.Message}).", e); }
        using var _ = decoded ?? throw new InvalidDataException($"{path}: not a decodable JPEG/PNG image.");
        var crop = random is null ? CentreCrop(decoded.Width, decoded.Height) : RandomResizedCrop(decoded.Width, decoded.Height, random);
        using var subset = new SKBitmap();
        if (!decoded.ExtractSubset(subset, crop)) throw new InvalidDataException($"{path}: could not crop {crop} from {decoded.Width}x{decoded.Height}.");
        using var resized = subset.Resize(new SKImageInfo(Size, Size, SKColorType.Rgba8888, SKAlphaType.Premul), new SKSamplingOptions(SKFilterMode.Linear, SKMipmapMode.Linear))
            ?? throw new InvalidDataException($"{path}: could not be resized.");
        CopyChw(resized, chw);
    }

    /// <summary>Copies a Size x Size RGBA bitmap into CHW bytes (R, G, B planes).</summary>
    void CopyChw(SKBitmap bitmap, Span<byte> chw)
    {
        int plane = Size * Size;
        var src = bitmap.GetPixelSpan();
        int stride = bitmap.RowBytes;
        for (int y = 0; y < Size; y++)
        for (int x = 0; x < Size; x++)
        {
            int s = y * stride + x * 4, d = y * Size + x;
            chw[d] = src[s];
            chw[plane + d] = src[s + 1];
            chw[2 * plane + d] = src[s + 2];
        }
    }

    /// <summary>The evaluation crop in source pixels: the square of side Size/Resize of the shorter side, centred.</summary>
    SKRectI CentreCrop(int width, int height)
    {
        int side = Math.Max(1, (int)Math.Round(Math.Min(width, height) * Size / (double)Resize));
        int x = (width - side) / 2, y = (height - side) / 2;
        return new SKRectI(x, y, x + side, y + side);
    }

    /// <summary>torchvision's RandomResizedCrop parameters: ten tries at a random area and aspect, then the centre at a clamped aspect.</summary>
    static SKRectI RandomResizedCrop(int width, int height, Random random)
    {
        double area = width * (double)height;
        for (int attempt = 0; attempt < 10; attempt++)
        {
            double target = area * (0.08 + 0.92 * random.NextDouble());
            double aspect = Math.Exp(Math.Log(3.0 / 4) + (Math.Log(4.0 / 3) - Math.Log(3.0 / 4)) * random.NextDouble());
            int w = (int)Math.Round(Math.Sqrt(target * aspect)), h = (int)Math.Round(Math.Sqrt(target / aspect));
            if (w > 0 && h > 0 && w <= width && h <= height)
            {
                int y = random.Next(height - h + 1), x = random.Next(width - w + 1);
                return new SKRectI(x, y, x + w, y + h);
            }
        }
        double ratio = width / (double)height;
        int cw = width, ch = height;
        if (ratio < 3.0 / 4) ch = (int)Math.Round(cw / (3.0 / 4));
        else if (ratio > 4.0 / 3) cw = (int)Math.Round(ch * 4.0 / 3);
        ch = Math.Min(ch, height);
        cw = Math.Min(cw, width);
        int cx = (width - cw) / 2, cy = (height - ch) / 2;
        return new SKRectI(cx, cy, cx + cw, cy + ch);
    }
}
