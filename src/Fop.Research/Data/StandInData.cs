using Fop.Research.Io;
using SkiaSharp;

namespace Fop.Research.Data;

/// <summary>
/// Small generated data sets in the exact file formats of CIFAR-10/100 (binary batches) and ImageNet (class folders of
/// images), for running the paper's pipelines end to end where the real data cannot be had. Every class has its own
/// colour and stripe pattern plus noise, so a model can learn it; the images are not CIFAR or ImageNet, and each
/// stand-in folder carries a STAND-IN.txt saying so.
/// </summary>
public static class StandInData
{
    /// <summary>The marker file every stand-in folder holds.</summary>
    public const string Marker = "STAND-IN.txt";

    /// <summary>Whether <paramref name="dir"/> (or a parent up to three levels) is a generated stand-in.</summary>
    public static bool IsStandIn(string dir)
    {
        for (var d = new DirectoryInfo(Path.GetFullPath(dir)); d is not null && d.FullName.Length > 1; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, Marker))) return true;
        return false;
    }

    /// <summary>
    /// Writes a CIFAR-10 (<paramref name="classes"/> = 10) or CIFAR-100 stand-in under <paramref name="dataDir"/> in the
    /// folder the official archive unpacks to, with <paramref name="trainPerClass"/> and <paramref name="testPerClass"/>
    /// images per class; returns that folder. Load it with <c>dataset=cifar10</c> and <c>data_dir=</c><paramref name="dataDir"/>.
    /// </summary>
    public static string WriteCifar(string dataDir, int classes, int trainPerClass, int testPerClass, long seed = 0)
    {
        if (classes is not (10 or 100)) throw new ArgumentOutOfRangeException(nameof(classes), classes, "CIFAR has 10 or 100 classes.");
        if (trainPerClass < 1 || testPerClass < 1) throw new ArgumentOutOfRangeException(nameof(trainPerClass), "at least one image per class and split.");
        var folder = Path.Combine(dataDir, Cifar.FolderFor(classes));
        Directory.CreateDirectory(folder);
        var random = new Random((int)seed);
        var trainFiles = Cifar.FileNames(classes, train: true);
        // Examples are dealt round-robin over the training files, as the official batches hold every class.
        var perFile = trainFiles.Select(_ => (Images: new List<byte>(), Labels: new List<byte>())).ToArray();
        int k = 0;
        for (int i = 0; i < trainPerClass; i++)
            for (int c = 0; c < classes; c++, k++)
            {
                perFile[k % trainFiles.Length].Images.AddRange(Image(c, classes, 32, random));
                perFile[k % trainFiles.Length].Labels.Add((byte)c);
            }
        for (int f = 0; f < trainFiles.Length; f++)
            Cifar.Write(Path.Combine(folder, trainFiles[f]), classes, perFile[f].Images.ToArray(), perFile[f].Labels.ToArray(), perFile[f].Labels.Select(l => (byte)(l / 5)).ToArray());
        var test = (Images: new List<byte>(), Labels: new List<byte>());
        for (int i = 0; i < testPerClass; i++)
            for (int c = 0; c < classes; c++) { test.Images.AddRange(Image(c, classes, 32, random)); test.Labels.Add((byte)c); }
        Cifar.Write(Path.Combine(folder, Cifar.FileNames(classes, train: false)[0]), classes, test.Images.ToArray(), test.Labels.ToArray(), test.Labels.Select(l => (byte)(l / 5)).ToArray());
        WriteMarker(folder, $"CIFAR-{classes} binary format, {trainPerClass} train and {testPerClass} test images per class, seed {seed}");
        return folder;
    }

    /// <summary>
    /// Writes an ImageNet-style stand-in: <paramref name="root"/>/{train,val}/&lt;class&gt;/*.png for the given class
    /// names (e.g. <see cref="ImageNet100.ClassIds"/>), square PNGs of <paramref name="imageSize"/> pixels. Returns <paramref name="root"/>.
    /// </summary>
    public static string WriteImageFolder(string root, IReadOnlyList<string> classNames, int trainPerClass, int valPerClass, int imageSize = 40, long seed = 0)
    {
        if (classNames.Count < 2) throw new ArgumentException("need at least two classes.");
        var random = new Random((int)seed);
        foreach (var (split, count) in new[] { ("train", trainPerClass), ("val", valPerClass) })
            for (int c = 0; c < classNames.Count; c++)
            {
                var dir = Path.Combine(root, split, classNames[c]);
                Directory.CreateDirectory(dir);
                for (int i = 0; i < count; i++)
                {
                    var chw = Image(c, classNames.Count, imageSize, random);
                    using var bitmap = new SKBitmap(imageSize, imageSize, SKColorType.Rgba8888, SKAlphaType.Opaque);
                    int plane = imageSize * imageSize;
                    for (int p = 0; p < plane; p++) bitmap.SetPixel(p % imageSize, p / imageSize, new SKColor(chw[p], chw[plane + p], chw[2 * plane + p]));
                    using var data = bitmap.Encode(SKEncodedImageFormat.Png, 100);
                    AtomicFile.Write(Path.Combine(dir, $"{classNames[c]}_{i:D5}.png"), data.SaveTo);
                }
            }
        WriteMarker(root, $"ImageNet folder layout, {classNames.Count} classes, {trainPerClass} train and {valPerClass} val PNGs of {imageSize}x{imageSize} per class, seed {seed}");
        return root;
    }

    // Class c: a base colour on a hue circle, stripes at a class-specific angle and frequency, Gaussian-ish noise.
    static byte[] Image(int c, int classes, int size, Random random)
    {
        var pixels = new byte[3 * size * size];
        double hue = 2 * Math.PI * c / classes, angle = Math.PI * ((c * 7) % classes) / classes, freq = 0.25 + 0.5 * ((c * 3) % 5) / 5.0;
        double[] colour = [Math.Cos(hue), Math.Cos(hue - 2.1), Math.Cos(hue + 2.1)];
        double phase = random.NextDouble() * 2 * Math.PI;
        for (int y = 0; y < size; y++)
            for (int x = 0; x < size; x++)
            {
                double stripe = Math.Sin(freq * (x * Math.Cos(angle) + y * Math.Sin(angle)) + phase);
                for (int ch = 0; ch < 3; ch++)
                {
                    double noise = (random.NextDouble() + random.NextDouble() + random.NextDouble() - 1.5) * 60;
                    double v = 128 + 60 * colour[ch] + 40 * stripe + noise;
                    pixels[ch * size * size + y * size + x] = (byte)Math.Clamp(v, 0, 255);
                }
            }
        return pixels;
    }

    static void WriteMarker(string folder, string what) =>
        AtomicFile.WriteAllText(Path.Combine(folder, Marker), $"GENERATED STAND-IN, NOT THE REAL DATA SET: {what}. Made by Fop.Research.Data.StandInData for smoke runs of the pipelines.\n");
}
