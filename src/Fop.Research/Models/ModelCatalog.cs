using Fop.Research.Io;
using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Fop.Research.Models;

/// <summary>Builds the model a config names, and knows the input each model was built for.</summary>
public static class ModelCatalog
{
    /// <summary>The names a config may use.</summary>
    public static IReadOnlyList<string> Names { get; } = ConfigNames.All<ModelKind>();

    /// <summary>The model named <paramref name="name"/> as configs write it; an unknown name is an error listing the known ones.</summary>
    public static ModelKind Parse(string name) => ConfigNames.Parse<ModelKind>(name, "model");

    /// <summary>
    /// The example shape (C, H, W) and class count a model is built for in the experiments: 28x28 grey images and 10 classes
    /// (Fashion-MNIST) for the MLP and small CNNs, 32x32 colour and 10 for the CIFAR ResNets, 224x224 colour with 1000
    /// classes for ResNet-50 and 100 for the ViT (ImageNet-100). What a benchmark feeds a model without a data set.
    /// </summary>
    public static (long[] Shape, int Classes) NativeInput(ModelKind kind) => kind switch
    {
        ModelKind.Mlp or ModelKind.SmallCnn or ModelKind.SmallCnnBatchNorm => ([1, 28, 28], 10),
        ModelKind.ResNet18 or ModelKind.ResNet32 => ([3, 32, 32], 10),
        ModelKind.ResNet50 => ([3, 224, 224], 1000),
        ModelKind.Vit => ([3, 224, 224], 100),
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "not a model of this catalog."),
    };

    /// <summary>Whether the model takes Fashion-MNIST's 28x28 grey images.</summary>
    public static bool TakesFashionMnist(ModelKind kind) => NativeInput(kind).Shape.SequenceEqual([1L, 28, 28]);

    /// <summary>Creates the named model (see <see cref="Parse"/>).</summary>
    public static Module<Tensor, Tensor> Create(string name, long[] exampleShape, int classes, IReadOnlyList<int>? mlpHidden = null) =>
        Create(Parse(name), exampleShape, classes, mlpHidden);

    /// <summary>Creates <paramref name="kind"/> for inputs of shape <paramref name="exampleShape"/> (C, H, W) and <paramref name="classes"/> classes.</summary>
    public static Module<Tensor, Tensor> Create(ModelKind kind, long[] exampleShape, int classes, IReadOnlyList<int>? mlpHidden = null)
    {
        int c = (int)exampleShape[0], h = (int)exampleShape[1];
        return kind switch
        {
            ModelKind.Mlp => new Mlp((int)(exampleShape[0] * exampleShape[1] * exampleShape[2]), mlpHidden ?? [512, 256], classes),
            ModelKind.SmallCnn => new SmallCnn(c, classes, imageSize: h),
            ModelKind.SmallCnnBatchNorm => new SmallCnn(c, classes, imageSize: h, batchNorm: true),
            ModelKind.ResNet18 => ResNet.Cifar18(classes, c),
            ModelKind.ResNet32 => ResNet.Cifar32(classes, c),
            ModelKind.ResNet50 => ResNet.ImageNet50(classes),
            ModelKind.Vit => new Vit(VitOptions.ImageNet100Small with { Classes = classes, ImageSize = h, Channels = c }),
            _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, $"not a model of this catalog (known: {string.Join(", ", Names)})."),
        };
    }

    /// <summary>Total number of parameters.</summary>
    public static long ParameterCount(Module module) => module.parameters().Sum(p => p.numel());
}
