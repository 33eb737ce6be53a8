using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Fop.Research.Models;

/// <summary>Residual networks: the CIFAR forms (3x3 stem, no max-pool) of ResNet-18 and ResNet-32, and ImageNet ResNet-50.</summary>
public static class ResNet
{
    /// <summary>CIFAR ResNet-18 (He et al. 2016 BasicBlock [2,2,2,2], 64-512 channels, 3x3 stem): 11,173,962 parameters for 10 classes.</summary>
    public static Module<Tensor, Tensor> Cifar18(int classes = 10, int channels = 3) =>
        new ResNetBody("resnet18", channels, classes, stemKernel: 3, stemStride: 1, maxPool: false, widths: [64, 128, 256, 512], blocks: [2, 2, 2, 2], bottleneck: false);

    /// <summary>ResNet-50 for ImageNet (7x7 stem, max-pool, Bottleneck [3,4,6,3]): 25,557,032 parameters for 1000 classes.</summary>
    public static Module<Tensor, Tensor> ImageNet50(int classes = 1000) =>
        new ResNetBody("resnet50", 3, classes, stemKernel: 7, stemStride: 2, maxPool: true, widths: [64, 128, 256, 512], blocks: [3, 4, 6, 3], bottleneck: true);

    /// <summary>CIFAR ResNet-32 (He et al. 2016 §4.2: 16/32/64 channels, 5 blocks per stage, parameter-free shortcuts): 464,154 parameters for 10 classes.</summary>
    public static Module<Tensor, Tensor> Cifar32(int classes = 10, int channels = 3) => new CifarResNet("resnet32", channels, classes, 5);
}

/// <summary>The BasicBlock / Bottleneck ResNet body used for ResNet-18 (CIFAR stem) and ResNet-50.</summary>
internal sealed class ResNetBody : Module<Tensor, Tensor>
{
    readonly Conv2d stem;
    readonly BatchNorm2d stemBn;
    readonly bool maxPool;
    readonly ModuleList<Module<Tensor, Tensor>> stages = new();
    readonly Linear fc;

    public ResNetBody(string name, int channels, int classes, int stemKernel, int stemStride, bool maxPool, int[] widths, int[] blocks, bool bottleneck) : base(name)
    {
        stem = Conv2d(channels, 64, stemKernel, stride: stemStride, padding: stemKernel / 2, bias: false);
        stemBn = BatchNorm2d(64);
        this.maxPool = maxPool;
        int inPlanes = 64, expansion = bottleneck ? 4 : 1;
        for (int s = 0; s < widths.Length; s++)
        {
            for (int b = 0; b < blocks[s]; b++)
            {
                int stride = b == 0 && s > 0 ? 2 : 1;
                stages.Add(bottleneck ? new Bottleneck(inPlanes, widths[s], stride) : new BasicBlock(inPlanes, widths[s], stride));
                inPlanes = widths[s] * expansion;
            }
        }
        fc = Linear(inPlanes, classes);
        RegisterComponents();
    }

    public override Tensor forward(Tensor input)
    {
        using var scope = NewDisposeScope();
        var x = functional.relu(stemBn.call(stem.call(input)));
        if (maxPool) x = functional.max_pool2d(x, 3, 2, 1);
        foreach (var block in stages) x = block.call(x);
        x = functional.adaptive_avg_pool2d(x, 1).flatten(1);
        return fc.call(x).MoveToOuterDisposeScope();
    }
}

/// <summary>Two 3x3 convolutions with a projection shortcut when the shape changes.</summary>
internal sealed class BasicBlock : Module<Tensor, Tensor>
{
    readonly Conv2d conv1, conv2;
    readonly BatchNorm2d bn1, bn2;
    readonly Sequential? shortcut;

    public BasicBlock(int inPlanes, int planes, int stride) : base(nameof(BasicBlock))
    {
        conv1 = Conv2d(inPlanes, planes, 3, stride: stride, padding: 1, bias: false);
        bn1 = BatchNorm2d(planes);
        conv2 = Conv2d(planes, planes, 3, padding: 1, bias: false);
        bn2 = BatchNorm2d(planes);
        if (stride != 1 || inPlanes != planes)
            shortcut = Sequential(Conv2d(inPlanes, planes, 1, stride: stride, bias: false), BatchNorm2d(planes));
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var y = functional.relu(bn1.call(conv1.call(x)));
        y = bn2.call(conv2.call(y));
        y = y + (shortcut is null ? x : shortcut.call(x));
        return functional.relu(y).MoveToOuterDisposeScope();
    }
}

/// <summary>1x1 - 3x3 - 1x1 bottleneck (expansion 4, stride on the 3x3 as in torchvision v1.5).</summary>
internal sealed class Bottleneck : Module<Tensor, Tensor>
{
    readonly Conv2d conv1, conv2, conv3;
    readonly BatchNorm2d bn1, bn2, bn3;
    readonly Sequential? shortcut;

    public Bottleneck(int inPlanes, int planes, int stride) : base(nameof(Bottleneck))
    {
        conv1 = Conv2d(inPlanes, planes, 1, bias: false);
        bn1 = BatchNorm2d(planes);
        conv2 = Conv2d(planes, planes, 3, stride: stride, padding: 1, bias: false);
        bn2 = BatchNorm2d(planes);
        conv3 = Conv2d(planes, planes * 4, 1, bias: false);
        bn3 = BatchNorm2d(planes * 4);
        if (stride != 1 || inPlanes != planes * 4)
            shortcut = Sequential(Conv2d(inPlanes, planes * 4, 1, stride: stride, bias: false), BatchNorm2d(planes * 4));
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var y = functional.relu(bn1.call(conv1.call(x)));
        y = functional.relu(bn2.call(conv2.call(y)));
        y = bn3.call(conv3.call(y));
        y = y + (shortcut is null ? x : shortcut.call(x));
        return functional.relu(y).MoveToOuterDisposeScope();
    }
}

/// <summary>The 6n+2 CIFAR ResNet of He et al. with option-A shortcuts (stride-2 subsampling and zero-padded channels).</summary>
internal sealed class CifarResNet : Module<Tensor, Tensor>
{
    readonly Conv2d stem;
    readonly BatchNorm2d stemBn;
    readonly ModuleList<Module<Tensor, Tensor>> blocks = new();
    readonly Linear fc;

    public CifarResNet(string name, int channels, int classes, int n) : base(name)
    {
        stem = Conv2d(channels, 16, 3, padding: 1, bias: false);
        stemBn = BatchNorm2d(16);
        int inPlanes = 16;
        foreach (var (planes, stride) in new[] { (16, 1), (32, 2), (64, 2) })
        {
            for (int b = 0; b < n; b++)
            {
                blocks.Add(new OptionABlock(inPlanes, planes, b == 0 ? stride : 1));
                inPlanes = planes;
            }
        }
        fc = Linear(64, classes);
        RegisterComponents();
    }

    public override Tensor forward(Tensor input)
    {
        using var scope = NewDisposeScope();
        var x = functional.relu(stemBn.call(stem.call(input)));
        foreach (var block in blocks) x = block.call(x);
        x = functional.adaptive_avg_pool2d(x, 1).flatten(1);
        return fc.call(x).MoveToOuterDisposeScope();
    }
}

/// <summary>BasicBlock whose shortcut has no parameters (option A of He et al.).</summary>
internal sealed class OptionABlock : Module<Tensor, Tensor>
{
    readonly Conv2d conv1, conv2;
    readonly BatchNorm2d bn1, bn2;
    readonly int stride, padChannels;

    public OptionABlock(int inPlanes, int planes, int stride) : base(nameof(OptionABlock))
    {
        conv1 = Conv2d(inPlanes, planes, 3, stride: stride, padding: 1, bias: false);
        bn1 = BatchNorm2d(planes);
        conv2 = Conv2d(planes, planes, 3, padding: 1, bias: false);
        bn2 = BatchNorm2d(planes);
        this.stride = stride;
        padChannels = (planes - inPlanes) / 2;
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var y = functional.relu(bn1.call(conv1.call(x)));
        y = bn2.call(conv2.call(y));
        var shortcut = x;
        if (stride != 1 || padChannels != 0)
        {
            shortcut = x[.., .., TensorIndex.Slice(null, null, stride), TensorIndex.Slice(null, null, stride)];
            shortcut = functional.pad(shortcut, [0, 0, 0, 0, padChannels, padChannels]);
        }
        return functional.relu(y + shortcut).MoveToOuterDisposeScope();
    }
}
