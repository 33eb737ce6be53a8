using Fop.Research.Data;
using SkiaSharp;
using TorchSharp;
using static TorchSharp.torch;
using Fop.Research.Randomness;

namespace Fop.Research.Tests;

/// <summary>Loaders on small files written in exactly the official formats; corrupt files name themselves.</summary>
public sealed class DataTests : IDisposable
{
    readonly string dir = Directory.CreateTempSubdirectory("fop-data-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    static byte[] Pixels(int n, int size, int seed)
    {
        var r = new Random(seed);
        var b = new byte[n * size];
        r.NextBytes(b);
        return b;
    }

    internal static void WriteFashionMnist(string dir, int train, int test)
    {
        foreach (var (prefix, n) in new[] { ("train", train), ("t10k", test) })
        {
            IdxFile.WriteImages(Path.Combine(dir, $"{prefix}-images-idx3-ubyte.gz"), Pixels(n, 784, n), n, 28, 28);
            IdxFile.WriteLabels(Path.Combine(dir, $"{prefix}-labels-idx1-ubyte.gz"), Enumerable.Range(0, n).Select(i => (byte)(i % 10)).ToArray());
        }
    }

    [Fact]
    public void FashionMnistIdxFilesRoundTrip()
    {
        WriteFashionMnist(dir, 30, 20);
        Assert.Equal(dir, FashionMnist.Locate(dir, allowDownload: false));
        using var train = FashionMnist.Load(dir, train: true);
        Assert.Equal(30, train.Count);
        Assert.Equal([1L, 28, 28], train.ExampleShape);
        Assert.Equal(Pixels(30, 784, 30), train.Images.data<byte>().ToArray());
        Assert.Equal(3, train.ClassCounts()[0]);
    }

    [Fact]
    public void TruncatedIdxFileIsAnErrorNamingTheFile()
    {
        WriteFashionMnist(dir, 10, 10);
        var path = Path.Combine(dir, "train-images-idx3-ubyte.gz");
        var raw = Path.Combine(dir, "short-idx3-ubyte");
        IdxFile.WriteImages(raw, Pixels(10, 784, 1), 10, 28, 28);
        File.WriteAllBytes(raw, File.ReadAllBytes(raw)[..5000]);
        var e = Assert.Throws<InvalidDataException>(() => IdxFile.ReadImages(raw));
        Assert.Contains(raw, e.Message);
        Assert.Contains("truncated", e.Message);
        File.WriteAllBytes(path, [1, 2, 3, 4, 5]);
        Assert.Contains(path, Assert.Throws<InvalidDataException>(() => FashionMnist.Load(dir, true)).Message);
    }

    [Fact]
    public void MissingDataSaysHowToGetIt()
    {
        var empty = Directory.CreateDirectory(Path.Combine(dir, "nothing")).FullName;
        var e = Assert.Throws<DatasetUnavailableException>(() => Cifar.Locate(10, empty));
        Assert.Contains("datasets/cifar.sh", e.Message);
        // A data folder that does not exist is named, not passed over for another copy the run would not record.
        Assert.Contains("no such folder", Assert.Throws<DirectoryNotFoundException>(() => Cifar.Locate(10, Path.Combine(dir, "typo"))).Message);
    }

    [Theory]
    [InlineData(10)]
    [InlineData(100)]
    public void CifarBinaryFilesRoundTrip(int classes)
    {
        var folder = Path.Combine(dir, Cifar.FolderFor(classes));
        Directory.CreateDirectory(folder);
        int perFile = 7;
        var files = Cifar.FileNames(classes, true).Concat(Cifar.FileNames(classes, false)).ToArray();
        foreach (var (name, i) in files.Select((f, i) => (f, i)))
            Cifar.Write(Path.Combine(folder, name), classes, Pixels(perFile, 3072, i), Enumerable.Range(0, perFile).Select(k => (byte)((k + i) % classes)).ToArray(), Enumerable.Repeat((byte)3, perFile).ToArray());
        Assert.Equal(folder, Cifar.Locate(classes, dir));
        using var train = Cifar.Load(folder, classes, train: true);
        Assert.Equal(perFile * Cifar.FileNames(classes, true).Length, train.Count);
        Assert.Equal([3L, 32, 32], train.ExampleShape);
        Assert.Equal(Pixels(perFile, 3072, 0), train.Images.narrow(0, 0, perFile).data<byte>().ToArray());
        Assert.Equal(1, train.Labels[1].item<long>());
    }

    [Fact]
    public void CorruptCifarFileIsAnErrorNamingTheFile()
    {
        var folder = Path.Combine(dir, "c10");
        Directory.CreateDirectory(folder);
        foreach (var name in Cifar.FileNames(10, true)) Cifar.Write(Path.Combine(folder, name), 10, Pixels(2, 3072, 0), [1, 2]);
        var bad = Path.Combine(folder, "data_batch_3.bin");
        File.WriteAllBytes(bad, File.ReadAllBytes(bad)[..4000]);
        var e = Assert.Throws<InvalidDataException>(() => Cifar.Load(folder, 10, true));
        Assert.Contains(bad, e.Message);
        Cifar.Write(bad, 10, Pixels(1, 3072, 0), [42]);
        Assert.Contains("label 42", Assert.Throws<InvalidDataException>(() => Cifar.Load(folder, 10, true)).Message);
    }

    [Fact]
    public void LongTailedProfileFollowsTheExponentialRule()
    {
        Assert.Equal([5000, 2997, 1796, 1077, 645, 387, 232, 139, 83, 50], LongTailed.ClassSizes(5000, 10, 100));
        using var balanced = new ImageDataset("toy", torch.zeros(1000, 1, 2, 2, dtype: ScalarType.Byte), torch.arange(1000) % 10, 10, Normalization.FashionMnist);
        using var lt = LongTailed.Subset(balanced, 10);
        Assert.Equal(LongTailed.ClassSizes(100, 10, 10).Select(v => (long)v).ToArray(), lt.ClassCounts());
        Assert.Throws<ArgumentOutOfRangeException>(() => LongTailed.ClassSizes(100, 10, 0.5));
    }

    [Fact]
    public void AugmentationIsDeterministicPerGeneratorAndShiftsWithinThePadding()
    {
        var x = torch.arange(2 * 1 * 6 * 6, dtype: ScalarType.Float32).view(2, 1, 6, 6) + 1;
        var aug = new Augmentation(2, true);
        using var r1 = new SeededRandom(5);
        using var r2 = new SeededRandom(5);
        var a = aug.Apply(x, r1);
        var b = aug.Apply(x, r2);
        Assert.True(a.equal(b).all().item<bool>());
        Assert.Equal(x.shape, a.shape);
        // Every output pixel is a zero from the padding or an input pixel of the same image.
        for (int i = 0; i < 2; i++)
        {
            var values = x[i].flatten().data<float>().ToHashSet();
            Assert.All(a[i].flatten().data<float>().ToArray(), v => Assert.True(v == 0 || values.Contains(v)));
        }
        using var r3 = new SeededRandom(1);
        var noPad = new Augmentation(0, false).Apply(x, r3);
        Assert.True(noPad.equal(x).all().item<bool>());
    }

    [Fact]
    public void ImageFolderDecodesResizesAndCropsPngs()
    {
        foreach (var (cls, color) in new[] { ("cat", SKColors.Red), ("dog", SKColors.Blue) })
        {
            Directory.CreateDirectory(Path.Combine(dir, "imgs", cls));
            for (int i = 0; i < 2; i++)
            {
                using var bmp = new SKBitmap(40, 30);
                bmp.Erase(color);
                using var data = bmp.Encode(SKEncodedImageFormat.Png, 100);
                File.WriteAllBytes(Path.Combine(dir, "imgs", cls, $"{i}.png"), data.ToArray());
            }
        }
        File.WriteAllText(Path.Combine(dir, "imgs", "dog", "0broken.png"), "not an image");
        using (var strict = ImageFolder.Load(Path.Combine(dir, "imgs"), 20, 16))
        {
            Assert.Equal(5, strict.Count);
            var e = Assert.Throws<InvalidDataException>(() => strict.Batch(torch.arange(5L)));
            Assert.Contains("0broken.png", e.Message);
        }
        var warnings = new List<string>();
        using (var lenient = ImageFolder.Load(Path.Combine(dir, "imgs"), 20, 16, onCorrupt: CorruptImages.Skip, onWarning: warnings.Add))
        {
            var (x, y) = lenient.Batch(torch.arange(5L));
            Assert.Equal([4L, 3, 16, 16], x.shape);
            Assert.Equal([0L, 0, 1, 1], y.data<long>().ToArray());
            lenient.Batch(torch.arange(5L));
            Assert.Single(warnings);
            Assert.Contains("0broken.png", warnings[0]);
        }
        File.Delete(Path.Combine(dir, "imgs", "dog", "0broken.png"));
        using var set = ImageFolder.Load(Path.Combine(dir, "imgs"), 20, 16);
        Assert.True(set.Streamed);
        Assert.Equal(4, set.Count);
        Assert.Equal([3L, 16, 16], set.ExampleShape);
        Assert.Equal([0L, 0, 1, 1], set.Labels.data<long>().ToArray());
        var (pixels, kept) = set.Store.Read(torch.arange(4L), ImageView.Eval);
        Assert.Null(kept);
        Assert.Equal(255, pixels[0, 0, 8, 8].item<byte>());
        Assert.Equal(255, pixels[3, 2, 8, 8].item<byte>());
        Assert.Throws<InvalidOperationException>(() => set.Images);
        Assert.Equal(100, ImageNet100.ClassIds.Distinct().Count());
    }

    [Fact]
    public void BatchOrderDependsOnlyOnSeedAndEpoch()
    {
        var a = BatchOrder.Permutation(100, 7, 3);
        var b = BatchOrder.Permutation(100, 7, 3);
        var c = BatchOrder.Permutation(100, 7, 4);
        Assert.True(a.equal(b).all().item<bool>());
        Assert.False(a.equal(c).all().item<bool>());
        Assert.Equal(100, a.unique().Item1.shape[0]);
        Assert.Equal(4, BatchOrder.StepsPerEpoch(100, 30));
        Assert.Equal(10, BatchOrder.BatchIndices(a, 3, 30).shape[0]);
    }

    [Fact]
    public void StandInsLoadThroughTheRealReadersAndSayWhatTheyAre()
    {
        var cifar = StandInData.WriteCifar(dir, 10, trainPerClass: 6, testPerClass: 2, seed: 1);
        Assert.Equal(cifar, Cifar.Locate(10, dir));
        using (var train = Cifar.Load(cifar, 10, train: true))
        using (var test = Cifar.Load(cifar, 10, train: false))
        {
            Assert.Equal(60, train.Count);
            Assert.Equal(20, test.Count);
            using var counts = train.Labels.bincount(null);
            Assert.All(counts.data<long>().ToArray(), n => Assert.Equal(6, n));
        }
        Assert.True(StandInData.IsStandIn(cifar));
        Assert.Contains("NOT THE REAL DATA SET", File.ReadAllText(Path.Combine(cifar, StandInData.Marker)));
        var c100 = StandInData.WriteCifar(dir, 100, 1, 1);
        using (var train100 = Cifar.Load(c100, 100, train: true)) Assert.Equal(100, train100.NumClasses);
        var classes = ImageNet100.ClassIds.Take(3).ToList();
        var root = StandInData.WriteImageFolder(Path.Combine(dir, "inet"), classes, trainPerClass: 2, valPerClass: 1, imageSize: 20);
        using var images = ImageFolder.Load(Path.Combine(root, "train"), resize: 20, size: 16);
        Assert.Equal(6, images.Count);
        Assert.Equal([3L, 16, 16], images.ExampleShape);
        Assert.Equal(classes.Order(StringComparer.Ordinal), ImageFolder.Classes(Path.Combine(root, "val")));
        Assert.True(StandInData.IsStandIn(Path.Combine(root, "train", classes[0])));
        Assert.False(StandInData.IsStandIn(Path.GetTempPath()));
    }

    [Fact]
    public void PaperTablesHoldEveryCell()
    {
        Assert.Equal(24, Studies.PaperResults.Cifar10ResNet18.Count);
        Assert.All(Studies.PaperResults.Cifar10ResNet18.Where(c => c.Optimizer == "fop"), c => Assert.NotNull(c.Epochs));
        Assert.Equal(475.2, Studies.PaperResults.Cifar10ResNet18.Single(c => c.Batch == 2048 && c.Optimizer == "fop").Time);
        Assert.Null(Studies.PaperResults.Cifar10ResNet18.Single(c => c.Batch == 8192 && c.Optimizer == "sgd").Epochs);
        Assert.Equal(9, Studies.PaperResults.ImageNet100Vit.Count);
        Assert.Equal(12, Studies.PaperResults.LongTailed.Count);
        Assert.Equal(58.97, Studies.PaperResults.LongTailed.Single(e => e.Dataset == "cifar100" && e.ImbalanceFactor == 100 && e.Method == "fop").ErrorPercent);
    }
}
