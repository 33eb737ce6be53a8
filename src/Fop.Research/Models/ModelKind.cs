using System.Text.Json.Serialization;

namespace Fop.Research.Models;

/// <summary>The models a run config names (JSON: mlp, smallcnn, smallcnn-bn, resnet18, resnet32, resnet50, vit).</summary>
public enum ModelKind
{
    /// <summary>A multilayer perceptron with <c>mlp_hidden</c> widths.</summary>
    [JsonStringEnumMemberName("mlp")]
    Mlp,
    /// <summary>The small CNN of the Fashion-MNIST analogues.</summary>
    [JsonStringEnumMemberName("smallcnn")]
    SmallCnn,
    /// <summary>The small CNN with BatchNorm after each convolution.</summary>
    [JsonStringEnumMemberName("smallcnn-bn")]
    SmallCnnBatchNorm,
    /// <summary>ResNet-18 for 32x32 images (the paper's CIFAR-10 model).</summary>
    [JsonStringEnumMemberName("resnet18")]
    ResNet18,
    /// <summary>ResNet-32 for 32x32 images (the long-tailed CIFAR model).</summary>
    [JsonStringEnumMemberName("resnet32")]
    ResNet32,
    /// <summary>ResNet-50 for 224x224 images.</summary>
    [JsonStringEnumMemberName("resnet50")]
    ResNet50,
    /// <summary>A small vision transformer (the ImageNet-100 model).</summary>
    [JsonStringEnumMemberName("vit")]
    Vit,
}
