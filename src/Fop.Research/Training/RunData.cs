using TorchSharp;
using Fop.Research.Data;
using Fop.Research.Randomness;

namespace Fop.Research.Training;

/// <summary>The training and test sets of a run, loaded as its config names them.</summary>
public sealed class RunData(ImageDataset train, ImageDataset test, ImageDataset? validation = null) : IDisposable
{
    /// <summary>Training set (long-tailed and/or subset as configured, validation examples removed).</summary>
    public ImageDataset Train { get; } = train;
    /// <summary>Test set (always balanced).</summary>
    public ImageDataset Test { get; } = test;
    /// <summary>Validation split held out of the training set (same class proportions), or null.</summary>
    public ImageDataset? Validation { get; } = validation;

    /// <summary>
    /// Splits <paramref name="set"/> into (remaining, validation) with <paramref name="count"/> validation examples, stratified:
    /// each class gives its share (largest remainders make the total exact), drawn by a permutation seeded with <paramref name="seed"/>.
    /// </summary>
    public static (ImageDataset Remaining, ImageDataset Validation) SplitValidation(ImageDataset set, int count, long seed)
    {
        if (count <= 0 || count >= set.Count) throw new ArgumentOutOfRangeException(nameof(count), count, $"validation_examples must lie in 1..{set.Count - 1} for {set.Name} ({set.Count} examples).");
        var counts = set.ClassCounts();
        var exact = counts.Select(c => c * (double)count / set.Count).ToArray();
        var share = exact.Select(e => (long)Math.Floor(e)).ToArray();
        foreach (var c in Enumerable.Range(0, counts.Length).OrderByDescending(c => exact[c] - share[c]).ThenBy(c => c).Take(count - (int)share.Sum())) share[c]++;
        using var random = new SeededRandom(seed, RandomPurpose.ValidationSplit);
        using var order = random.Permutation(set.Count, torch.CPU);
        using var labels = set.Labels.cpu();
        var label = labels.data<long>().ToArray();
        var taken = new long[counts.Length];
        var validation = new List<long>(count);
        var rest = new List<long>(set.Count - count);
        foreach (var i in order.data<long>())
            (taken[label[i]]++ < share[label[i]] ? validation : rest).Add(i);
        validation.Sort();
        rest.Sort();
        return (set.Subset(torch.tensor(rest.ToArray())), set.Subset(torch.tensor(validation.ToArray()), set.Name.Replace("/train", "") + "/validation"));
    }

    /// <summary>Loads the data a config asks for; missing files raise an error that says how to get them.</summary>
    public static RunData Load(RunConfig config, Action<string>? log = null)
    {
        ImageDataset train, test;
        switch (config.Dataset)
        {
            case DatasetKind.FashionMnist:
            {
                var dir = FashionMnist.Locate(config.DataDir, allowDownload: true, log);
                train = FashionMnist.Load(dir, train: true);
                test = FashionMnist.Load(dir, train: false);
                break;
            }
            case DatasetKind.Cifar10 or DatasetKind.Cifar100:
            {
                int classes = config.Dataset == DatasetKind.Cifar10 ? 10 : 100;
                var dir = Cifar.Locate(classes, config.DataDir);
                train = Cifar.Load(dir, classes, train: true);
                test = Cifar.Load(dir, classes, train: false);
                break;
            }
            case DatasetKind.ImageNet100 or DatasetKind.ImageFolder:
            {
                var root = config.DataDir ?? Path.Combine(DatasetFiles.RepositoryRoot() ?? ".", "datasets", "imagenet100");
                if (!Directory.Exists(Path.Combine(root, "train")))
                    throw new DatasetUnavailableException($"{root}/train not found. Build ImageNet-100 with `./fop prepare-imagenet100 --source <ImageNet-1K folder> --dest datasets/imagenet100`, or point --data-dir at a folder with train/ and val/ class folders.");
                var only = config.Dataset == DatasetKind.ImageNet100 ? ImageNet100.ClassIds : null;
                ImageFolder.CheckSameClasses(Path.Combine(root, "train"), Path.Combine(root, "val"), only);
                int resize = (int)Math.Round(config.ImageSize / 0.875);
                train = ImageFolder.Load(Path.Combine(root, "train"), resize, config.ImageSize, only, name: $"{config.DatasetName}/train", onCorrupt: config.CorruptImages, onWarning: log);
                test = ImageFolder.Load(Path.Combine(root, "val"), resize, config.ImageSize, only, name: $"{config.DatasetName}/val", onCorrupt: config.CorruptImages, onWarning: log);
                break;
            }
            default:
                throw new ArgumentException($"dataset '{config.DatasetName}' is not supported.");
        }
        if (!train.ExampleShape.SequenceEqual(test.ExampleShape))
        {
            var message = $"{config.DatasetName}: training images are [{string.Join(", ", train.ExampleShape)}] but test images are [{string.Join(", ", test.ExampleShape)}]; the files do not belong together.";
            train.Dispose(); test.Dispose();
            throw new InvalidDataException(message);
        }
        if (config.ImbalanceFactor > 1)
        {
            var lt = LongTailed.Subset(train, config.ImbalanceFactor);
            train.Dispose();
            train = lt;
        }
        ImageDataset? validation = null;
        if (config.ValidationExamples > 0)
        {
            var (rest, held) = SplitValidation(train, config.ValidationExamples, config.ValidationSeed);
            train.Dispose();
            (train, validation) = (rest, held);
        }
        if (config.TrainSubset > 0) { var t = train.Take(config.TrainSubset); train.Dispose(); train = t; }
        if (config.TestSubset > 0) { var t = test.Take(config.TestSubset); test.Dispose(); test = t; }
        return new RunData(train, test, validation);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        Train.Dispose();
        Test.Dispose();
        Validation?.Dispose();
    }
}
