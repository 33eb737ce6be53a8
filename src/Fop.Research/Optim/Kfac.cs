using Fop.Research.Curvature;
using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Fop.Research.Optim;

/// <summary>
/// KFAC (Martens and Grosse 2015; KFC for convolutions): capture -> factors -> preconditioner -> KL clip ->
/// momentum / weight decay -> step. Curvature and inverses are refreshed on their intervals.
/// </summary>
public sealed class Kfac : NaturalGradientOptimizer
{
    readonly KfacOptions options;

    /// <summary>Creates KFAC for <paramref name="model"/>; invalid options throw here.</summary>
    public Kfac(Module<Tensor, Tensor> model, KfacOptions options, Likelihood? likelihood = null, int microBatchSize = 0, long seed = 0)
        : base("kfac", model, options, likelihood, microBatchSize, seed) => this.options = options;

    /// <summary>The options in force.</summary>
    public KfacOptions Options => options;

    /// <inheritdoc />
    protected override StepResult StepCore(Tensor inputs, Tensor targets, double lr)
    {
        long n = inputs.shape[0];
        ZeroGrad();
        Curvature.BeginStep(StepCount);
        var (lossSum, correct) = GradientPass.Accumulate(Model, Likelihood, inputs, targets, MicroBatchSize, n, Curvature, Timer);
        var grads = CurrentGradients();
        var gradientsFinite = HostReads.AllFinite(grads.Append(lossSum), inputs.device);
        CurvatureCommit commit;
        using (PhaseTimer.Time(Timer, StepPhase.Curvature))
        {
            Curvature.GatherSubset(Model, inputs, targets, StepCount, MicroBatchSize);
            commit = Curvature.EndStep(StepCount, Warnings, gradientsFinite);
        }
        if (commit != CurvatureCommit.Committed)
        {
            ZeroGrad();
            return NonFinite(HostReads.Scalar(lossSum), n, commit == CurvatureCommit.StatisticsNotFinite ? "curvature statistics" : "loss or gradient");
        }
        var layers = Curvature.Layers;
        var gradientMatrices = layers.Select(l => l.GradientMatrix()).ToList();
        var directions = gradientMatrices.Select((g, i) => Curvature.Precondition(i, g, Warnings)).ToList();
        var nu = Tail.KlClipFactor(directions.Zip(gradientMatrices), lr);
        // The step's one read on steps without curvature work: loss, correct count, every finite check and the KL-clip factor.
        var finite = HostReads.AllFinite(nu is null ? directions : directions.Append(nu), inputs.device).logical_and(gradientsFinite);
        var read = HostReads.Scalars(lossSum, correct, finite, nu ?? HostReads.Constant(1, inputs.device), Curvature.DeferredStatisticsFinite(inputs.device));
        if (read[2] == 0 || read[4] == 0)
        {
            ZeroGrad();
            return Refused(read, n, "preconditioned direction");
        }
        Curvature.ResolveDeferred(commit: true);
        if (nu is not null) foreach (var d in directions) d.mul_(nu.to_type(d.dtype));
        Tail.Apply(layers, directions, Parameters, i => grads[i], lr);
        return new StepResult(read[0], (long)read[1], n);
    }
}
