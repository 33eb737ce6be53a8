using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Fop.Research.Models;

/// <summary>
/// A small CNN for 28x28 grey images: two 3x3 conv + max-pool stages, then two linear layers; with
/// <c>batchNorm</c>, each conv is followed by BatchNorm (and has no bias of its own) before its ReLU.
/// </summary>
public sealed class SmallCnn : Module<Tensor, Tensor>
{
    readonly Conv2d conv1, conv2;
    readonly BatchNorm2d? bn1, bn2;
    readonly Linear fc1, fc2;

    /// <summary>Creates the network for <paramref name="channels"/>-channel 28x28 inputs.</summary>
    public SmallCnn(int channels = 1, int classes = 10, int width = 32, int hidden = 128, int imageSize = 28, bool batchNorm = false) : base(nameof(SmallCnn))
    {
        // A bias before BatchNorm is cancelled by its mean subtraction; leaving it out keeps the curvature blocks honest.
        conv1 = Conv2d(channels, width, 3, padding: 1, bias: !batchNorm);
        conv2 = Conv2d(width, 2 * width, 3, padding: 1, bias: !batchNorm);
        if (batchNorm) (bn1, bn2) = (BatchNorm2d(width), BatchNorm2d(2 * width));
        var spatial = imageSize / 4;
        fc1 = Linear(2 * width * spatial * spatial, hidden);
        fc2 = Linear(hidden, classes);
        RegisterComponents();
    }

    /// <inheritdoc />
    public override Tensor forward(Tensor input)
    {
        using var scope = NewDisposeScope();
        var x = conv1.call(input);
        x = functional.max_pool2d(functional.relu(bn1?.call(x) ?? x), 2);
        x = conv2.call(x);
        x = functional.max_pool2d(functional.relu(bn2?.call(x) ?? x), 2);
        x = functional.relu(fc1.call(x.flatten(1)));
        return fc2.call(x).MoveToOuterDisposeScope();
    }
}
