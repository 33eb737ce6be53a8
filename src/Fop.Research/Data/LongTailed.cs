using TorchSharp;
using static TorchSharp.torch;

namespace Fop.Research.Data;

/// <summary>Long-tailed subsets with the exponential profile of the CIFAR-LT literature (Cao et al. 2019).</summary>
public static class LongTailed
{
    /// <summary>Examples kept per class: n_c = floor(n_max * IF^(-c / (C - 1))).</summary>
    public static int[] ClassSizes(int maxPerClass, int classes, double imbalanceFactor)
    {
        if (imbalanceFactor < 1) throw new ArgumentOutOfRangeException(nameof(imbalanceFactor), imbalanceFactor, "The imbalance factor must be at least 1.");
        if (classes < 2) throw new ArgumentOutOfRangeException(nameof(classes), classes, "A long-tailed profile needs at least 2 classes.");
        return Enumerable.Range(0, classes)
            .Select(c => (int)Math.Floor(maxPerClass * Math.Pow(imbalanceFactor, -c / (double)(classes - 1))))
            .ToArray();
    }

    /// <summary>The first n_c examples of each class c (in data set order), the class profile above.</summary>
    public static ImageDataset Subset(ImageDataset balanced, double imbalanceFactor)
    {
        var counts = balanced.ClassCounts();
        var sizes = ClassSizes((int)counts.Max(), balanced.NumClasses, imbalanceFactor);
        var keep = new List<Tensor>();
        using var scope = torch.NewDisposeScope();
        for (int c = 0; c < balanced.NumClasses; c++)
        {
            if (sizes[c] > counts[c])
                throw new InvalidOperationException($"{balanced.Name}: class {c} has {counts[c]} examples, the profile asks for {sizes[c]}.");
            var idx = torch.nonzero(balanced.Labels.eq(c)).view(-1);
            keep.Add(idx.narrow(0, 0, sizes[c]));
        }
        var all = torch.cat(keep, 0).sort().Values;
        return balanced.Subset(all, $"{balanced.Name}-lt{imbalanceFactor:g}");
    }
}
