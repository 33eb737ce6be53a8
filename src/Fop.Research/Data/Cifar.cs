using TorchSharp;
using static TorchSharp.torch;

namespace Fop.Research.Data;

/// <summary>CIFAR-10 and CIFAR-100 in their official binary formats (the "binary version" archives).</summary>
/// <remarks>
/// CIFAR-10: <c>cifar-10-batches-bin/data_batch_{1..5}.bin</c> and <c>test_batch.bin</c>, records of
/// 1 label byte + 3072 pixel bytes (1024 red, 1024 green, 1024 blue, row-major 32x32).
/// CIFAR-100: <c>cifar-100-binary/train.bin</c> and <c>test.bin</c>, records of a coarse label byte,
/// a fine label byte and 3072 pixel bytes. datasets/cifar.sh downloads and verifies both.
/// </remarks>
public static class Cifar
{
    const int Pixels = 3 * 32 * 32;

    /// <summary>Folder names the official archives unpack to.</summary>
    public static string FolderFor(int classes) => classes == 10 ? "cifar-10-batches-bin" : "cifar-100-binary";

    /// <summary>What to tell a user who has no copy.</summary>
    public static string HowToGet(int classes) =>
        $"CIFAR-{classes} (binary version) was not found. Run `bash datasets/cifar.sh {classes}` (downloads from " +
        "https://www.cs.toronto.edu/~kriz/ and checks the published MD5), or unpack cifar-" + (classes == 10 ? "10-binary" : "100-binary") +
        $".tar.gz yourself so that datasets/{FolderFor(classes)}/ exists (or pass --data-dir / set FOP_DATA).";

    /// <summary>The data files of a split.</summary>
    public static string[] FileNames(int classes, bool train) => classes switch
    {
        10 => train ? Enumerable.Range(1, 5).Select(i => $"data_batch_{i}.bin").ToArray() : ["test_batch.bin"],
        100 => train ? ["train.bin"] : ["test.bin"],
        _ => throw new ArgumentException($"CIFAR has 10 or 100 classes, not {classes}."),
    };

    /// <summary>The folder holding a split's files, or an error that says how to get them.</summary>
    public static string Locate(int classes, string? dataDir = null)
    {
        var names = FileNames(classes, true).Concat(FileNames(classes, false)).ToArray();
        var candidates = DatasetFiles.Candidates(FolderFor(classes), dataDir, []);
        return DatasetFiles.Find(candidates, names)
            ?? throw new DatasetUnavailableException((DatasetFiles.Incomplete(candidates, names) is { } partial ? $"CIFAR-{classes}: {partial} " : "") +
                HowToGet(classes) + $" Searched: {string.Join(", ", candidates)}.");
    }

    /// <summary>Loads a split of CIFAR-10 or CIFAR-100 (fine labels) from <paramref name="dir"/>.</summary>
    public static ImageDataset Load(string dir, int classes, bool train)
    {
        int labelBytes = classes == 10 ? 1 : 2;
        int record = labelBytes + Pixels;
        var images = new List<byte>();
        var labels = new List<byte>();
        foreach (var name in FileNames(classes, train))
        {
            var path = Path.Combine(dir, name);
            if (!File.Exists(path)) throw new FileNotFoundException($"{path}: file not found. {HowToGet(classes)}", path);
            var bytes = File.ReadAllBytes(path);
            if (bytes.Length == 0 || bytes.Length % record != 0)
                throw new InvalidDataException($"{path}: {bytes.Length} bytes is not a whole number of {record}-byte CIFAR-{classes} records (truncated or corrupt).");
            for (int at = 0; at < bytes.Length; at += record)
            {
                var label = bytes[at + labelBytes - 1];
                if (label >= classes) throw new InvalidDataException($"{path}: record {at / record} has label {label}, outside 0..{classes - 1}.");
                labels.Add(label);
            }
            // Pixels are copied record by record as spans; no per-pixel work.
            for (int at = 0; at < bytes.Length; at += record) images.AddRange(new ArraySegment<byte>(bytes, at + labelBytes, Pixels));
        }
        var n = labels.Count;
        var x = torch.tensor(images.ToArray(), dtype: ScalarType.Byte).view(n, 3, 32, 32);
        using var y8 = torch.tensor(labels.ToArray(), dtype: ScalarType.Byte);
        var y = y8.to_type(ScalarType.Int64);
        return new ImageDataset($"cifar{classes}/{(train ? "train" : "test")}", x, y, classes, classes == 10 ? Normalization.Cifar10 : Normalization.Cifar100);
    }

    /// <summary>Writes records in the official binary format (for tests and tools): images (N, 3, 32, 32) bytes, labels per record.</summary>
    public static void Write(string path, int classes, byte[] images, byte[] fineLabels, byte[]? coarseLabels = null)
    {
        using var stream = File.Create(path);
        for (int i = 0; i < fineLabels.Length; i++)
        {
            if (classes == 100) stream.WriteByte(coarseLabels?[i] ?? 0);
            stream.WriteByte(fineLabels[i]);
            stream.Write(images, i * Pixels, Pixels);
        }
    }
}
