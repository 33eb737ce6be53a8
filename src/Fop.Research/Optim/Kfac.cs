using Fop.Research.Curvature;
using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;
using Fop.Research.Devices;

namespace Fop.Research.Optim;

/// <summary>
/// KFAC (Martens and Grosse 2015; KFC for convolutions): capture -> factors -> preconditioner -> KL clip ->
/// momentum / weight decay -> step. Curvature and inverses are refreshed on their intervals.
/// </summary>
public sealed class Kfac : NaturalGradientOptimizer
{
    readonly KfacOptions options;

    /// <summary>Creates KFAC for <paramref name="model"/> with the paper's tail unless <paramref name="tail"/> is given; invalid options throw here.</summary>
    public Kfac(Module<Tensor, Tensor> model, KfacOptions options, TailOptions? tail = null, Likelihood? likelihood = null, int microBatchSize = 0, long seed = 0)
        : base("kfac", model, options, tail ?? TailOptions.Paper, likelihood, microBatchSize, seed) => this.options = options;

    /// <summary>The options in force.</summary>
    public KfacOptions Options => options;

    /// <inheritdoc />
    /// <remarks>The stages of fop-method.md: gradients, curvature, direction, tail (one host read, KL clip), apply.</remarks>
    protected override StepResult StepCore(Tensor inputs, Tensor targets, double lr)
    {
        // Gradients over the whole batch, the curvature recorder watching every chunk.
        long n = BatchExamples;
        ZeroGrad();
        Curvature.BeginStep(StepCount);
        var (lossSum, correct, grads) = BatchGradients(inputs, targets, Curvature);
        var totals = new StepTotals(lossSum, correct, n, HostReads.AllFinite(grads.Append(lossSum), inputs.device));

        // Curvature: statistics, and inverses when due.
        if (EndCurvatureStep(inputs, targets, totals) is { } refusedAtCurvature) return Refuse(refusedAtCurvature);

        // Direction: F^-1 g per layer (in a job, each layer on its owner, then broadcast).
        var gradientMatrices = Curvature.Layers.Select(l => l.GradientMatrix()).ToList();
        var directions = gradientMatrices.Select((g, i) => Curvature.Owns(i) ? Curvature.Precondition(i, g, Warnings) : torch.empty_like(g)).ToList();
        ShareDirections(directions);

        // Tail: the step's one read (loss, finite checks, KL-clip factor), then the clip.
        var read = ReadStep(directions, gradientMatrices, "preconditioned direction", totals, lr);
        if (read.Refused is { } refused) return Refuse(refused);

        // Apply: momentum / weight decay and the step.
        Tail.Apply(Map, directions, Parameters, i => grads[i], lr);
        return new StepResult(read.Loss, read.Correct, n, KlClipFactor: read.KlClipFactor);
    }

    /// <summary>A refused step clears the gradients it accumulated (weights and state are untouched).</summary>
    StepResult Refuse(StepResult refused)
    {
        ZeroGrad();
        return refused;
    }
}
