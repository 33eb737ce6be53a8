using System.Text.Json.Serialization;

namespace Fop.Research.Data;

/// <summary>The data sets a run config names (JSON: fashion-mnist, cifar10, cifar100, imagenet100, imagefolder).</summary>
public enum DatasetKind
{
    /// <summary>Fashion-MNIST (IDX files; Debian's dataset-fashion-mnist).</summary>
    [JsonStringEnumMemberName("fashion-mnist")]
    FashionMnist,
    /// <summary>CIFAR-10 (binary version).</summary>
    [JsonStringEnumMemberName("cifar10")]
    Cifar10,
    /// <summary>CIFAR-100 (binary version).</summary>
    [JsonStringEnumMemberName("cifar100")]
    Cifar100,
    /// <summary>The 100-class ImageNet subset, as an image folder.</summary>
    [JsonStringEnumMemberName("imagenet100")]
    ImageNet100,
    /// <summary>Any folder of train/ and val/ class folders.</summary>
    [JsonStringEnumMemberName("imagefolder")]
    ImageFolder,
}
