using Fop.Research.Curvature;
using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Fop.Research.Optim;

/// <summary>
/// Fisher-Orthogonal Projection (Lu and Armour 2025): dual gradients -> whole-batch curvature -> per-layer projection,
/// adaptive beta and layer-wise eta -> KL clip -> momentum / weight decay -> step. Parameters without a Kronecker block
/// step with g_avg.
/// </summary>
public sealed class Fop : NaturalGradientOptimizer
{
    readonly FopOptions options;
    readonly IDualGradientSource source;

    /// <summary>Creates FOP for <paramref name="model"/>; invalid options throw here.</summary>
    public Fop(Module<Tensor, Tensor> model, FopOptions options, Likelihood? likelihood = null, int microBatchSize = 0, long seed = 0, IDualGradientSource? source = null)
        : base("fop", model, Validated(options).Kfac, likelihood, microBatchSize, seed)
    {
        this.options = options;
        this.source = source ?? new HalfBatchSplit(options.SplitAtChunk);
    }

    static FopOptions Validated(FopOptions options) { options.Validate(); return options; }

    /// <summary>The options in force.</summary>
    public FopOptions Options => options;
    /// <inheritdoc />
    protected override bool MeasuresNoiseItself => true;
    /// <summary>Internals of the latest step that computed them.</summary>
    public FopDiagnostics? LastDiagnostics { get; private set; }

    /// <inheritdoc />
    protected override StepResult StepCore(Tensor inputs, Tensor targets, double lr)
    {
        ZeroGrad();
        Curvature.BeginStep(StepCount);
        var dual = source.Compute(Pass(Curvature), inputs, targets, TakeGradients);
        var gradientsFinite = HostReads.AllFinite(dual.First.Concat(dual.Second).Append(dual.LossSum), inputs.device);
        if (EndCurvatureStep(inputs, targets, gradientsFinite, dual.LossSum, dual.Examples) is { } refusedAtCommit) return refusedAtCommit;

        var index = new Dictionary<object, int>(ReferenceEqualityComparer.Instance);
        for (int k = 0; k < Parameters.Count; k++) index[Parameters[k].Parameter] = k;
        Tensor Matrix(PreconditionedLayer l, IReadOnlyList<Tensor> g) => l.ToMatrix(g[index[l.Weight]], l.Bias is null ? null : g[index[l.Bias]]);

        bool diagnostics = options.DiagnosticsInterval > 0 && StepCount % options.DiagnosticsInterval == 0;
        var layers = Curvature.Layers;
        var directions = new List<Tensor>(layers.Count);
        var averages = new List<Tensor>(layers.Count);
        var projections = new List<LayerProjection>(layers.Count);
        var halves = new List<Tensor>();
        for (int i = 0; i < layers.Count; i++)
        {
            var g1 = Matrix(layers[i], dual.First);
            var g2 = Matrix(layers[i], dual.Second);
            averages.Add(g1 * dual.FirstWeight + g2 * (1 - dual.FirstWeight));
            if (diagnostics) halves.Add(torch.stack([KroneckerPreconditioner.DotTensor(g1, g2), KroneckerPreconditioner.DotTensor(g1, g1), KroneckerPreconditioner.DotTensor(g2, g2)]));
            var p = Curvature.Preconditioner(i);
            if (p is null)
            {
                directions.Add(Curvature.Precondition(i, averages[i], Warnings));
                continue;
            }
            var projection = FisherOrthogonalProjection.Compute(layers[i].Name, g1, g2, p, options, diagnostics, lr, dual.FirstWeight);
            directions.Add(projection.Update);
            projections.Add(projection);
        }
        // s, beta and eta stay on the device; only a diagnostics step reads them (and the halves' cosine) to the host.
        FopDiagnostics? report = null;
        if (diagnostics && projections.Count > 0)
        {
            var sums = HostReads.Doubles(torch.stack(halves).sum(dim: 0));
            report = new FopDiagnostics(LayerProjection.ReadAll(projections), sums[1] > 0 && sums[2] > 0 ? sums[0] / Math.Sqrt(sums[1] * sums[2]) : double.NaN);
        }
        LastDiagnostics = report ?? LastDiagnostics;

        if (ReadStep(directions, averages, gradientsFinite, dual.LossSum, dual.Correct, dual.Examples, lr, "FOP direction", out var loss, out var correct) is { } refused)
            return refused;
        Tail.Apply(layers, directions, Parameters, dual.Average, lr);
        return new StepResult(loss, correct, dual.Examples, Fop: report,
            Noise: NoiseDue ? NoiseFrom(dual.First, dual.Second, dual.FirstExamples, dual.SecondExamples) : null);
    }
}
