using TorchSharp;
using static TorchSharp.torch;

namespace Fop.Research.Data;

/// <summary>
/// A folder of class sub-folders of JPEG/PNG images (the ImageNet layout), streamed through an <see cref="ImageFolderStore"/>:
/// random resized crops for training and resize plus centre crop for evaluation at decode time, flips later on whole
/// batches (<see cref="Augmentation"/>).
/// </summary>
public static class ImageFolder
{
    static readonly string[] Extensions = [".jpg", ".jpeg", ".png", ".JPEG", ".JPG", ".PNG"];

    /// <summary>Class folder names in sorted (ordinal) order: the label of a class is its index here.</summary>
    public static string[] Classes(string root, IReadOnlyList<string>? only = null)
    {
        if (!Directory.Exists(root)) throw new DirectoryNotFoundException($"{root}: image folder not found.");
        var classes = Directory.GetDirectories(root).Select(Path.GetFileName).OfType<string>().OrderBy(s => s, StringComparer.Ordinal).ToArray();
        if (only != null)
        {
            var missing = only.Where(c => !classes.Contains(c)).ToArray();
            if (missing.Length > 0) throw new DirectoryNotFoundException($"{root}: missing class folders {string.Join(", ", missing.Take(5))}{(missing.Length > 5 ? ", ..." : "")}.");
            classes = only.OrderBy(s => s, StringComparer.Ordinal).ToArray();
        }
        if (classes.Length == 0) throw new InvalidDataException($"{root}: no class sub-folders.");
        return classes;
    }

    /// <summary>
    /// Refuses a training and an evaluation folder whose class folders differ: labels are class indices, so a class missing
    /// from one side would relabel every class after it (a meaningless accuracy) and an extra one would be out of range.
    /// </summary>
    public static void CheckSameClasses(string trainRoot, string evalRoot, IReadOnlyList<string>? only = null)
    {
        var train = Classes(trainRoot, only);
        var eval = Classes(evalRoot, only);
        if (train.SequenceEqual(eval)) return;
        static string List(IEnumerable<string> names) => names.Any() ? string.Join(", ", names.Take(5)) + (names.Count() > 5 ? ", ..." : "") : "none";
        throw new InvalidDataException($"{trainRoot} and {evalRoot} must hold the same class folders (labels are their sorted positions): " +
            $"only in {Path.GetFileName(trainRoot)}/: {List(train.Except(eval))}; only in {Path.GetFileName(evalRoot)}/: {List(eval.Except(train))}.");
    }

    /// <summary>
    /// The images under <paramref name="root"/> as a streamed data set: (3, size, size) examples decoded batch by batch, so
    /// memory does not grow with the folder. Labels are the class folders' sorted indices.
    /// </summary>
    public static ImageDataset Load(string root, int resize, int size, IReadOnlyList<string>? onlyClasses = null, Normalization? normalization = null, string? name = null,
        CorruptImages onCorrupt = CorruptImages.Error, Action<string>? onWarning = null)
    {
        if (size > resize) throw new ArgumentException($"Crop size {size} exceeds resize {resize}.");
        var classes = Classes(root, onlyClasses);
        var files = classes.SelectMany((c, label) => Directory.EnumerateFiles(Path.Combine(root, c))
                .Where(f => Extensions.Contains(Path.GetExtension(f)))
                .OrderBy(f => f, StringComparer.Ordinal)
                .Select(f => (File: f, Label: label)))
            .ToArray();
        if (files.Length == 0) throw new InvalidDataException($"{root}: no .jpg/.jpeg/.png images.");
        var store = new ImageFolderStore(files.Select(f => f.File).ToArray(), resize, size, onCorrupt, onWarning);
        var labels = torch.tensor(files.Select(f => (long)f.Label).ToArray());
        return new ImageDataset(name ?? Path.GetFileName(Path.TrimEndingDirectorySeparator(root)), store, labels, classes.Length, normalization ?? Normalization.ImageNet);
    }

}
