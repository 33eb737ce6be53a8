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
        this.source = source ?? HalfBatchSplit.Instance;
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
        var dual = source.Compute(Model, Likelihood, inputs, targets, MicroBatchSize, () => { var g = CopyGradients(); ZeroGrad(); return g; }, Curvature, Timer);
        if (!AllFinite(dual.LossSum, dual.First.Concat(dual.Second)))
        {
            Curvature.DiscardStep();
            return NonFinite(dual.LossSum, dual.Examples);
        }
        bool committed;
        using (PhaseTimer.Time(Timer, StepPhase.Curvature))
        {
            Curvature.GatherSubset(Model, inputs, targets, StepCount, MicroBatchSize);
            committed = Curvature.EndStep(StepCount, Warnings);
        }
        if (!committed) return NonFinite(dual.LossSum, dual.Examples, "curvature statistics");

        var index = new Dictionary<object, int>(ReferenceEqualityComparer.Instance);
        for (int k = 0; k < Parameters.Count; k++) index[Parameters[k].Parameter] = k;
        Tensor Matrix(PreconditionedLayer l, IReadOnlyList<Tensor> g) => l.ToMatrix(g[index[l.Weight]], l.Bias is null ? null : g[index[l.Bias]]);

        bool diagnostics = options.DiagnosticsInterval > 0 && StepCount % options.DiagnosticsInterval == 0;
        var layers = Curvature.Layers;
        var directions = new List<Tensor>(layers.Count);
        var averages = new List<Tensor>(layers.Count);
        var perLayer = new List<FopLayerDiagnostics>(layers.Count);
        double dot12 = 0, n1 = 0, n2 = 0;
        for (int i = 0; i < layers.Count; i++)
        {
            var g1 = Matrix(layers[i], dual.First);
            var g2 = Matrix(layers[i], dual.Second);
            averages.Add(g1 * dual.FirstWeight + g2 * (1 - dual.FirstWeight));
            if (diagnostics)
            {
                dot12 += KroneckerPreconditioner.Dot(g1, g2);
                n1 += KroneckerPreconditioner.Dot(g1, g1);
                n2 += KroneckerPreconditioner.Dot(g2, g2);
            }
            var p = Curvature.Preconditioner(i);
            if (p is null)
            {
                directions.Add(Curvature.Precondition(i, averages[i], Warnings));
                continue;
            }
            var projection = FisherOrthogonalProjection.Compute(layers[i].Name, g1, g2, p, options, diagnostics, lr, dual.FirstWeight);
            directions.Add(projection.Update);
            perLayer.Add(projection.Diagnostics);
        }
        FopDiagnostics? report = perLayer.Count > 0 ? new FopDiagnostics(perLayer, diagnostics && n1 > 0 && n2 > 0 ? dot12 / Math.Sqrt(n1 * n2) : double.NaN) : null;
        LastDiagnostics = report ?? LastDiagnostics;

        double nu = Tail.KlClipFactor(directions.Zip(averages), lr);
        if (!double.IsFinite(nu) || !AllFinite(0, directions)) return NonFinite(dual.LossSum, dual.Examples, $"FOP direction (KL-clip factor {nu})");
        if (nu != 1.0) foreach (var d in directions) d.mul_(nu);
        Tail.Apply(layers, directions, Parameters, dual.Average, lr);
        return new StepResult(dual.LossSum, dual.Correct, dual.Examples, Fop: report,
            Noise: NoiseDue ? NoiseFrom(dual.First, dual.Second, dual.FirstExamples, dual.SecondExamples) : null);
    }
}
