using Fop.Research.Curvature;
using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;
using Fop.Research.Devices;

namespace Fop.Research.Optim;

/// <summary>
/// Fisher-Orthogonal Projection (Lu and Armour 2025): dual gradients -> whole-batch curvature -> per-layer projection,
/// adaptive beta and layer-wise eta -> KL clip -> momentum / weight decay -> step. Parameters without a Kronecker block
/// step with g_avg.
/// </summary>
public sealed class FopOptimizer : NaturalGradientOptimizer
{
    readonly FopOptions options;
    readonly IDualGradientSource source;

    /// <summary>
    /// Creates FOP for <paramref name="model"/>: its switches <paramref name="options"/> on the KFAC base <paramref name="kfac"/>
    /// (default <see cref="KfacOptions.Paper"/>) with the tail <paramref name="tail"/> (default <see cref="TailOptions.Paper"/>);
    /// invalid options throw here.
    /// </summary>
    public FopOptimizer(Module<Tensor, Tensor> model, FopOptions options, KfacOptions? kfac = null, TailOptions? tail = null, Likelihood? likelihood = null,
        int microBatchSize = 0, long seed = 0, IDualGradientSource? source = null)
        : base("fop", model, kfac ?? KfacOptions.Paper, tail ?? TailOptions.Paper, likelihood, microBatchSize, Validated(options, seed))
    {
        this.options = options;
        this.source = source ?? new HalfBatchSplit(options.SplitAtChunk);
    }

    /// <summary>Validates the FOP switches before the base class hooks any layer, passing <paramref name="seed"/> through.</summary>
    static long Validated(FopOptions options, long seed) { options.Validate(); return seed; }

    /// <inheritdoc />
    /// <remarks>The halves are split as on one process (equal, or on the micro-batch boundary); even ranks share the first, odd ranks the second.</remarks>
    public override void Distribute(Distributed.DataParallel parallel)
    {
        if (source is not HalfBatchSplit) throw new NotSupportedException("FOP on several processes forms its halves from the ranks; a custom dual-gradient source cannot be combined with it.");
        parallel.RequireEvenRanks();
        base.Distribute(parallel);
    }

    /// <summary>Examples in the first half of a batch of <paramref name="n"/>, as one process splits it.</summary>
    long FirstHalf(long n) => ((HalfBatchSplit)source).FirstHalf(n, MicroBatchSize <= 0 ? n : Math.Min(n, MicroBatchSize));

    /// <inheritdoc />
    protected override (long Start, long Count) LocalRows(Distributed.DataParallel parallel, long n) => parallel.HalfShard(n, FirstHalf(n));

    /// <summary>The options in force.</summary>
    public FopOptions Options => options;
    /// <inheritdoc />
    protected override bool MeasuresNoiseItself => true;
    /// <summary>Internals of the latest step that computed them.</summary>
    public FopDiagnostics? LastDiagnostics { get; private set; }

    /// <inheritdoc />
    /// <remarks>The stages of fop-method.md: gradients, curvature, direction, tail (one host read, KL clip), apply.</remarks>
    protected override StepResult StepCore(Tensor inputs, Tensor targets, double lr)
    {
        // Gradients: g1 and g2 from the two halves; the curvature recorder watches both, so statistics cover the whole batch.
        ZeroGrad();
        Curvature.BeginStep(StepCount);
        var dual = Halves().Compute(Pass(Curvature), inputs, targets, TakeGradients);
        var totals = new StepTotals(dual.LossSum, dual.Correct, dual.Examples, HostReads.AllFinite(dual.First.Concat(dual.Second).Append(dual.LossSum), inputs.device));

        // Curvature: statistics, and inverses when due.
        if (EndCurvatureStep(inputs, targets, totals) is { } refusedAtCurvature) return refusedAtCurvature;

        // Direction: per layer, the Fisher-orthogonal projection (s, beta, eta stay on the device).
        bool diagnostics = options.DiagnosticsInterval > 0 && StepCount % options.DiagnosticsInterval == 0;
        var (directions, averages, report) = Directions(dual, lr, diagnostics);
        ShareDirections(directions);
        LastDiagnostics = report ?? LastDiagnostics;

        // Tail: the step's one read (loss, finite checks, KL-clip factor), then the clip.
        var read = ReadStep(directions, averages, "FOP direction", totals, lr);
        if (read.Refused is { } refused) return refused;

        // Apply: momentum / weight decay and the step; parameters without a Kronecker block step with g_avg.
        Tail.Apply(Map, directions, Parameters, dual.Average, lr);
        return new StepResult(read.Loss, read.Correct, dual.Examples, Fop: report, KlClipFactor: read.KlClipFactor,
            Noise: NoiseDue ? NoiseFrom(dual.First, dual.Second, dual.FirstExamples, dual.SecondExamples) : null);
    }

    /// <summary>Where g1 and g2 come from: the two halves of this batch, or in a job the even and odd ranks' halves.</summary>
    IDualGradientSource Halves() =>
        Parallel is { } parallel ? new Distributed.RankHalves(parallel, FirstHalf(BatchExamples), BatchExamples - FirstHalf(BatchExamples)) : source;

    /// <summary>
    /// Each layer's update direction (FOP's for layers with a preconditioner, F^-1 g_avg for the rest) and g_avg's matrix;
    /// on a diagnostics step also the internals, read to the host here (two reads).
    /// </summary>
    (List<Tensor> Directions, List<Tensor> Averages, FopDiagnostics? Report) Directions(DualGradients dual, double lr, bool diagnostics)
    {
        int count = Curvature.Layers.Count;
        var directions = new List<Tensor>(count);
        var averages = new List<Tensor>(count);
        var projections = new List<LayerProjection>(count);
        var halves = new List<Tensor>();
        for (int i = 0; i < count; i++)
        {
            var g1 = Map.Matrix(i, dual.First);
            var g2 = Map.Matrix(i, dual.Second);
            averages.Add(g1 * dual.FirstWeight + g2 * (1 - dual.FirstWeight));
            if (diagnostics) halves.Add(torch.stack([KroneckerPreconditioner.DotTensor(g1, g2), KroneckerPreconditioner.DotTensor(g1, g1), KroneckerPreconditioner.DotTensor(g2, g2)]));
            if (!Curvature.Owns(i))
            {
                // Another rank owns this layer: its update arrives by broadcast (diagnostics cover the layers this rank owns).
                directions.Add(torch.empty_like(averages[i]));
                continue;
            }
            if (Curvature.Preconditioner(i) is not { } p)
            {
                directions.Add(Curvature.Precondition(i, averages[i], Warnings));
                continue;
            }
            var projection = FisherOrthogonalProjection.Compute(Curvature.Layers[i].Name, g1, g2, p, options, diagnostics, lr, dual.FirstWeight);
            directions.Add(projection.Update);
            projections.Add(projection);
        }
        if (!diagnostics || projections.Count == 0) return (directions, averages, null);
        var sums = HostReads.Doubles(torch.stack(halves).sum(dim: 0));
        var report = new FopDiagnostics(LayerProjection.ReadAll(projections), sums[1] > 0 && sums[2] > 0 ? sums[0] / Math.Sqrt(sums[1] * sums[2]) : double.NaN);
        return (directions, averages, report);
    }
}
