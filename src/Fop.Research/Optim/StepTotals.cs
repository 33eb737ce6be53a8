using static TorchSharp.torch;

namespace Fop.Research.Optim;

/// <summary>
/// What a step's gradient stage leaves on the device for its one host read: the loss sum, the correct count, the number of
/// examples and whether every gradient (and the loss) is finite.
/// </summary>
public sealed record StepTotals(Tensor LossSum, Tensor Correct, long Examples, Tensor GradientsFinite);

/// <summary>What the step's one host read returned: loss sum and correct count, the KL-clip factor (null without clipping), or the refused result when nothing may commit.</summary>
public readonly record struct StepRead(double Loss, long Correct, double? KlClipFactor, StepResult? Refused);
