using Fop.Research.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace Fop.Research.Tests;

/// <summary>Parameter counts pinned to the published architectures, and output shapes.</summary>
public class ModelTests
{
    [Theory]
    [InlineData("resnet18", 3, 32, 10, 11_173_962L)]
    [InlineData("resnet32", 3, 32, 10, 464_154L)]
    [InlineData("resnet50", 3, 224, 1000, 25_557_032L)]
    [InlineData("mlp", 1, 28, 10, 784L * 512 + 512 + 512 * 256 + 256 + 256 * 10 + 10)]
    public void ParameterCountsMatchThePublishedModels(string name, int channels, int size, int classes, long expected)
    {
        using var model = ModelCatalog.Create(name, [channels, size, size], classes);
        Assert.Equal(expected, ModelCatalog.ParameterCount(model));
    }

    [Fact]
    public void VitParameterCountMatchesItsArchitecture()
    {
        var options = VitOptions.ImageNet100Small with { ImageSize = 32, PatchSize = 8 };
        using var vit = new Vit(options);
        Assert.Equal(options.ParameterCount(), ModelCatalog.ParameterCount(vit));
        using var y = vit.call(torch.randn(2, 3, 32, 32));
        Assert.Equal([2L, 100], y.shape);
    }

    [Theory]
    [InlineData("smallcnn", 1, 28, 10)]
    [InlineData("smallcnn-bn", 1, 28, 10)]
    [InlineData("resnet32", 3, 32, 100)]
    [InlineData("resnet18", 3, 32, 10)]
    public void ModelsMapBatchesToLogits(string name, int channels, int size, int classes)
    {
        using var model = ModelCatalog.Create(name, [channels, size, size], classes);
        using var y = model.call(torch.randn(2, channels, size, size));
        Assert.Equal([2L, classes], y.shape);
    }
}
