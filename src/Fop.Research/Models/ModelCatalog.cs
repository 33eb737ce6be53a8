using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Fop.Research.Models;

/// <summary>Builds a model by the name a config uses.</summary>
public static class ModelCatalog
{
    /// <summary>The names a config may use.</summary>
    public static IReadOnlyList<string> Names { get; } = ["mlp", "smallcnn", "smallcnn-bn", "resnet18", "resnet32", "resnet50", "vit"];

    /// <summary>Creates the named model for inputs of shape <paramref name="exampleShape"/> (C, H, W) and <paramref name="classes"/> classes.</summary>
    public static Module<Tensor, Tensor> Create(string name, long[] exampleShape, int classes, IReadOnlyList<int>? mlpHidden = null)
    {
        int c = (int)exampleShape[0], h = (int)exampleShape[1];
        return name switch
        {
            "mlp" => new Mlp((int)(exampleShape[0] * exampleShape[1] * exampleShape[2]), mlpHidden ?? [512, 256], classes),
            "smallcnn" => new SmallCnn(c, classes, imageSize: h),
            "smallcnn-bn" => new SmallCnn(c, classes, imageSize: h, batchNorm: true),
            "resnet18" => ResNet.Cifar18(classes, c),
            "resnet32" => ResNet.Cifar32(classes, c),
            "resnet50" => ResNet.ImageNet50(classes),
            "vit" => new Vit(VitOptions.ImageNet100Small with { Classes = classes, ImageSize = h, Channels = c }),
            _ => throw new ArgumentException($"Unknown model '{name}'. Known: {string.Join(", ", Names)}."),
        };
    }

    /// <summary>Total number of parameters.</summary>
    public static long ParameterCount(Module module) => module.parameters().Sum(p => p.numel());
}
