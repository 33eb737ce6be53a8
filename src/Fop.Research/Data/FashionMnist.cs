namespace Fop.Research.Data;

/// <summary>Fashion-MNIST (Xiao et al. 2017): 60,000 training and 10,000 test 28x28 grey images, 10 classes.</summary>
public static class FashionMnist
{
    /// <summary>Folder name under a data root.</summary>
    public const string Folder = "fashion-mnist";

    /// <summary>Where Debian's <c>dataset-fashion-mnist</c> package installs the files.</summary>
    public const string DebianDir = "/usr/share/datasets/fashion-mnist";

    /// <summary>The four official files with their SHA-256.</summary>
    public static IReadOnlyList<RemoteFile> Files { get; } =
    [
        new("train-images-idx3-ubyte.gz", BaseUrl + "train-images-idx3-ubyte.gz", "b0564c3eedabfbf835052cff8503ea422014ce006caf5b757f851416ee8300c7"),
        new("train-labels-idx1-ubyte.gz", BaseUrl + "train-labels-idx1-ubyte.gz", "0ae29f65d86684f32d1b9c85147786c547b9c6aebcaf235f0400a0cce308b056"),
        new("t10k-images-idx3-ubyte.gz", BaseUrl + "t10k-images-idx3-ubyte.gz", "cc1d090a38ace84dfa1aa66e3ada7c336ef481a96936906477e6dd344da56eaa"),
        new("t10k-labels-idx1-ubyte.gz", BaseUrl + "t10k-labels-idx1-ubyte.gz", "8d3605d196f4be44669e46906da9733c8131fef761fdbfec72c424d5222f1a05"),
    ];

    const string BaseUrl = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/";

    /// <summary>What to tell a user whose machine has no copy and no network.</summary>
    public const string HowToGet =
        "Fashion-MNIST was not found. Either install the Debian package (apt-get install -y dataset-fashion-mnist, " +
        "files land in /usr/share/datasets/fashion-mnist), or put train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, " +
        "t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz from https://github.com/zalandoresearch/fashion-mnist " +
        "into datasets/fashion-mnist/ (or a folder named by --data-dir or FOP_DATA).";

    /// <summary>The folder holding all four files, downloading them into datasets/fashion-mnist when none does.</summary>
    public static string Locate(string? dataDir = null, bool allowDownload = true, Action<string>? log = null)
    {
        var names = Files.Select(f => f.Name).ToArray();
        var candidates = DatasetFiles.Candidates(Folder, dataDir, [DebianDir]);
        var found = DatasetFiles.Find(candidates, names);
        if (found != null) return found;
        var target = Path.Combine(DatasetFiles.RepositoryRoot() ?? dataDir ?? Environment.CurrentDirectory, "datasets", Folder);
        if (!allowDownload) throw new DatasetUnavailableException((DatasetFiles.Incomplete(candidates, names) is { } partial ? $"Fashion-MNIST: {partial} " : "") +
            HowToGet + $" Searched: {string.Join(", ", candidates)}.");
        DatasetFiles.Download(Files, target, HowToGet, log);
        return target;
    }

    /// <summary>Loads the training or test split from <paramref name="dir"/> (as found by <see cref="Locate"/>).</summary>
    public static ImageDataset Load(string dir, bool train)
    {
        var prefix = train ? "train" : "t10k";
        var imagePath = Path.Combine(dir, $"{prefix}-images-idx3-ubyte.gz");
        var images = IdxFile.ReadImages(imagePath);
        if (images.shape[2] != 28 || images.shape[3] != 28)
            throw new InvalidDataException($"{imagePath}: images are {images.shape[2]}x{images.shape[3]}, but Fashion-MNIST images are 28x28 (corrupt or foreign file).");
        var labelPath = Path.Combine(dir, $"{prefix}-labels-idx1-ubyte.gz");
        var labels = IdxFile.ReadLabels(labelPath);
        using (var max = labels.max())
            if (max.item<long>() >= 10) throw new InvalidDataException($"{labelPath}: label {max.item<long>()} found, but Fashion-MNIST has classes 0..9 (corrupt file).");
        if (images.shape[0] != labels.shape[0])
            throw new InvalidDataException($"{Path.Combine(dir, prefix)}-*: {images.shape[0]} images but {labels.shape[0]} labels.");
        return new ImageDataset($"{Folder}/{(train ? "train" : "test")}", images, labels, 10, Normalization.FashionMnist);
    }
}
