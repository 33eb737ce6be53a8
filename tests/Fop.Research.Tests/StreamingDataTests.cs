using System.Diagnostics;
using Fop.Research.Data;
using Fop.Research.Training;
using SkiaSharp;
using TorchSharp;
using static TorchSharp.torch;

namespace Fop.Research.Tests;

/// <summary>Streamed image folders: seeded training crops, batches prepared ahead equal batches prepared on demand, and an epoch of 15,000 images at 224x224 in bounded memory.</summary>
public sealed class StreamingDataTests : IDisposable
{
    readonly string dir = Directory.CreateTempSubdirectory("fop-stream-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    /// <summary>Writes <paramref name="perClass"/> PNGs of width x height per class, each a different colour ramp.</summary>
    string WriteFolder(int classes, int perClass, int width, int height)
    {
        var root = Path.Combine(dir, $"folder-{classes}x{perClass}");
        for (int c = 0; c < classes; c++)
        {
            var folder = Path.Combine(root, $"c{c:D2}");
            Directory.CreateDirectory(folder);
            for (int i = 0; i < perClass; i++)
            {
                using var bmp = new SKBitmap(width, height);
                for (int y = 0; y < height; y++)
                for (int x = 0; x < width; x++)
                    bmp.SetPixel(x, y, new SKColor((byte)(x * 255 / width), (byte)(y * 255 / height), (byte)((c * 37 + i) % 256)));
                using var data = bmp.Encode(SKEncodedImageFormat.Png, 100);
                File.WriteAllBytes(Path.Combine(folder, $"{i:D5}.png"), data.ToArray());
            }
        }
        return root;
    }

    static bool Same(Tensor a, Tensor b) => a.shape.SequenceEqual(b.shape) && torch.eq(a, b).all().item<bool>();

    [Fact]
    public void TrainingCropsDependOnlyOnTheSeedAndEvaluationIsTheCentre()
    {
        using var set = ImageFolder.Load(WriteFolder(2, 3, 48, 32), resize: 40, size: 32);
        using var all = torch.arange(6L);
        var (a, _) = set.Store.Read(all, new ImageView(true, 11));
        var (b, _) = set.Store.Read(all, new ImageView(true, 11));
        var (c, _) = set.Store.Read(all, new ImageView(true, 12));
        var (e1, _) = set.Store.Read(all, ImageView.Eval);
        var (e2, _) = set.Store.Read(all, ImageView.Eval);
        Assert.True(Same(a, b));
        Assert.False(Same(a, c));
        Assert.False(Same(a, e1));
        Assert.True(Same(e1, e2));
        // The centre crop of a horizontal ramp is symmetric about the middle column: red at the left edge mirrors 255 - red at the right.
        var red = e1[0, 0, 16].to_type(ScalarType.Float64);
        Assert.True((red[0] + red[31] - 255).abs().item<double>() < 12, $"red at the edges {red[0].item<double>()} and {red[31].item<double>()}");
        // A subset reads the same files.
        using var subset = set.Subset(torch.tensor(new long[] { 4, 1 }));
        var (s, _) = subset.Store.Read(torch.arange(2L), ImageView.Eval);
        Assert.True(Same(s[0], e1[4]) && Same(s[1], e1[1]));
        Assert.Equal([1L, 0], subset.Labels.data<long>().ToArray());
    }

    [Fact]
    public void BatchesPreparedAheadEqualBatchesPreparedOnDemand()
    {
        using var set = ImageFolder.Load(WriteFolder(3, 10, 24, 20), resize: 20, size: 16);
        var config = ConfigFile.Load(null, ["batch_size=7", "seed=5", "augment.horizontal_flip=true", "augment.crop_padding=2"]);
        int steps = BatchOrder.StepsPerEpoch(set.Count, config.BatchSize);
        using var permutation = BatchOrder.Permutation(set.Count, config.Seed, 1);
        using var ahead = new BatchFeed(set, config, torch.CPU);
        Assert.True(ahead.Prefetches);
        var sequence = Enumerable.Range(0, steps).Select(step => ahead.Get(1, step, permutation, steps)).ToList();
        using var resumed = new BatchFeed(set, config, torch.CPU);
        for (int step = 2; step < steps; step++)
        {
            var (x, y) = resumed.Get(1, step, permutation, steps);
            Assert.True(Same(x, sequence[step].X), $"step {step}: images differ");
            Assert.True(Same(y, sequence[step].Y), $"step {step}: labels differ");
        }
        var (other, _) = resumed.Get(2, 2, permutation, steps);
        Assert.False(Same(other, sequence[2].X));
    }

    [Fact]
    public void AnEpochOfFifteenThousandImagesAt224StaysInBoundedMemory()
    {
        const int classes = 10, perClass = 1500, batch = 250;
        using var set = ImageFolder.Load(WriteFolder(classes, perClass, 12, 10), resize: 256, size: 224);
        Assert.Equal(classes * perClass, set.Count);
        var config = ConfigFile.Load(null, [$"batch_size={batch}", "seed=3", "augment.horizontal_flip=true"]);
        int steps = BatchOrder.StepsPerEpoch(set.Count, batch);
        using var permutation = BatchOrder.Permutation(set.Count, config.Seed, 0);
        using var feed = new BatchFeed(set, config, torch.CPU);
        GC.Collect();
        long baseline = Process.GetCurrentProcess().WorkingSet64, peak = baseline;
        long seen = 0;
        var labelCounts = new long[classes];
        for (int step = 0; step < steps; step++)
        {
            var (x, y) = feed.Get(0, step, permutation, steps);
            using (x)
            using (y)
            {
                Assert.Equal([y.shape[0], 3L, 224, 224], x.shape);
                seen += y.shape[0];
                foreach (var label in y.data<long>()) labelCounts[label]++;
            }
            peak = Math.Max(peak, Process.GetCurrentProcess().WorkingSet64);
        }
        Assert.Equal(set.Count, seen);
        Assert.All(labelCounts, n => Assert.Equal(perClass, n));
        // The whole epoch as uint8 would be 15,000 x 3 x 224 x 224 = 2.26 GB (float: 9 GB); two float batches of 250 are 0.3 GB.
        double grownGb = (peak - baseline) / 1e9;
        Assert.True(grownGb < 1.0, $"working set grew by {grownGb:F2} GB over one epoch");
    }
}
