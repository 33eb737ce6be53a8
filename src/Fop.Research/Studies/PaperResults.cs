namespace Fop.Research.Studies;

/// <summary>A cell of the paper's time-to-target tables: epochs and time to the target, or null where the method did not reach it.</summary>
public sealed record PaperTimeToTarget(string Experiment, int Batch, string Optimizer, int? Epochs, double? Time, string TimeUnit);

/// <summary>A cell of the paper's long-tailed table: top-1 error (%) on the balanced test set.</summary>
public sealed record PaperError(string Dataset, int ImbalanceFactor, string Method, double ErrorPercent);

/// <summary>The numbers Lu &amp; Armour (arXiv 2508.13898) report, as data (fop-method.md §4), for putting next to our runs.</summary>
public static class PaperResults
{
    /// <summary>Table 1: CIFAR-10, ResNet-18, 2 GPUs, target 91% test top-1: epochs / seconds to target.</summary>
    public static IReadOnlyList<PaperTimeToTarget> Cifar10ResNet18 { get; } = Table("cifar10-resnet18", "s", new (int, (int, double)?[])[]
    {
        (2048, [(58, 743.3), (61, 768.4), (37, 588.7), (29, 475.2)]),
        (4096, [(73, 457.9), (73, 454.0), (34, 270.5), (22, 181.9)]),
        (8192, [null, null, (71, 296.4), (35, 157.5)]),
        (16384, [null, null, (99, 186.4), (58, 121.2)]),
        (32768, [null, null, null, (60, 90.6)]),
        (50000, [null, null, null, (82, 84.3)]),
    }, ["sgd", "adamw", "kfac", "fop"]);

    /// <summary>Table 2: ImageNet-100, T2T-ViT, target 80.6%: epochs / minutes (AdamW at 512 only).</summary>
    public static IReadOnlyList<PaperTimeToTarget> ImageNet100Vit { get; } =
    [
        new("imagenet100-vit", 512, "adamw", 97, 291.6, "min"),
        .. Table("imagenet100-vit", "min", new (int, (int, double)?[])[]
        {
            (512, [(42, 138.6), (44, 158.9)]), (1024, [(49, 76.7), (41, 67.3)]), (2048, [(57, 46.0), (48, 42.3)]), (4096, [(87, 45.3), (49, 27.8)]),
        }, ["kfac", "fop"]),
    ];

    /// <summary>Table 4: long-tailed CIFAR, ResNet-32, damping 1e-3: top-1 error (%).</summary>
    public static IReadOnlyList<PaperError> LongTailed { get; } =
    [
        .. Errors("cifar10", 100, [28.05, 28.59, 26.65]), .. Errors("cifar10", 50, [23.55, 22.29, 20.55]),
        .. Errors("cifar100", 100, [62.27, 61.78, 58.97]), .. Errors("cifar100", 50, [56.22, 55.02, 53.67]),
    ];

    static IEnumerable<PaperError> Errors(string dataset, int imbalance, double[] sgdKfacFop) =>
        new[] { "sgd", "kfac", "fop" }.Select((m, i) => new PaperError(dataset, imbalance, m, sgdKfacFop[i]));

    static IReadOnlyList<PaperTimeToTarget> Table(string experiment, string unit, (int Batch, (int Epochs, double Time)?[] Cells)[] rows, string[] optimizers) =>
        rows.SelectMany(r => r.Cells.Select((c, i) => new PaperTimeToTarget(experiment, r.Batch, optimizers[i], c?.Epochs, c?.Time, unit))).ToList();
}
