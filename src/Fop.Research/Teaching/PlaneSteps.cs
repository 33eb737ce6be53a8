using Fop.Research.Curvature;
using Fop.Research.Optim;
using TorchSharp;
using static TorchSharp.torch;

namespace Fop.Research.Teaching;

/// <summary>What FOP computes at one point for one batch, in the plane: the halves' gradients, the Fisher-orthogonal part and both steps.</summary>
public sealed record FopPicture(Vec2 W, Vec2 G1, Vec2 G2, Vec2 GAvg, Vec2 GPerp, Mat2 Fisher, Vec2 KfacDirection, Vec2 FopDirection,
    IReadOnlyList<FopLayerDiagnostics> Layers)
{
    /// <summary>&lt;g_perp, F g_avg&gt; / (|g_perp|_F |g_avg|_F): zero by construction (F here is the damped KFAC matrix FOP projects with).</summary>
    public double FisherCosine
    {
        get
        {
            double a = GAvg.Dot(Fisher.Times(GAvg)), b = GPerp.Dot(Fisher.Times(GPerp));
            return a > 0 && b > 0 ? GPerp.Dot(Fisher.Times(GAvg)) / Math.Sqrt(a * b) : 0;
        }
    }
}

/// <summary>Step directions and trajectories of every <see cref="TeachingMethod"/> on a two-weight problem; KFAC and FOP go through the library's own code.</summary>
public static class PlaneSteps
{
    /// <summary>
    /// The direction d of one step (w_next = w - lr d) for a batch; FOP uses its first ⌈n/2⌉ examples as the first half.
    /// Momentum's direction is the plain gradient (its velocity lives in <see cref="Trajectory"/>); Shampoo's, SOAP's and
    /// Muon's are their first step's, from empty statistics (their later steps depend on the path: <see cref="Trajectory"/>).
    /// </summary>
    public static Vec2 Direction(TwoWeightProblem p, TeachingMethod method, Vec2 w, IReadOnlyList<int> batch, TrajectoryOptions o) => method switch
    {
        TeachingMethod.GradientDescent or TeachingMethod.Momentum => p.Gradient(w, batch),
        TeachingMethod.Newton => p.Hessian(w, batch).Damped(o.Damping).Solve(p.Gradient(w, batch)),
        TeachingMethod.NaturalGradient => p.Fisher(w, batch).Damped(o.Damping).Solve(p.Gradient(w, batch)),
        TeachingMethod.Kfac => Kfac(p, w, batch, o.Damping),
        TeachingMethod.Fop => Picture(p, w, batch, o).FopDirection,
        TeachingMethod.Shampoo or TeachingMethod.Soap or TeachingMethod.Muon => FirstStep(p, method, w, batch, o),
        _ => throw new ArgumentOutOfRangeException(nameof(method)),
    };

    static Vec2 FirstStep(TwoWeightProblem p, TeachingMethod method, Vec2 w, IReadOnlyList<int> batch, TrajectoryOptions o)
    {
        using var fresh = new MatrixMethodSteps(method, o.Shampoo, o.Soap, o.Muon);
        return fresh.Next(p, w, batch);
    }

    /// <summary>The points visited from <paramref name="start"/> (default: the problem's start), start included.</summary>
    public static IReadOnlyList<Vec2> Trajectory(TwoWeightProblem p, TeachingMethod method, TrajectoryOptions o, Vec2? start = null)
    {
        o.Validate();
        var w = start ?? p.Start;
        var points = new List<Vec2> { w };
        var velocity = new Vec2(0, 0);
        using var matrix = MatrixMethodSteps.IsMatrixMethod(method) ? new MatrixMethodSteps(method, o.Shampoo, o.Soap, o.Muon) : null;
        var random = new Random((int)o.Seed);
        var order = p.All.ToArray();
        for (int t = 0; t < o.Steps; t++)
        {
            IReadOnlyList<int> batch = p.All;
            if (o.BatchSize > 0 && o.BatchSize < p.Count)
            {
                random.Shuffle(order);
                batch = order[..o.BatchSize].ToArray();
            }
            var d = matrix?.Next(p, w, batch) ?? Direction(p, method, w, batch, o);
            if (method == TeachingMethod.Momentum) d = velocity = o.Momentum * velocity + d;
            w -= o.Lr * d;
            if (!double.IsFinite(w.X) || !double.IsFinite(w.Y)) break;     // diverged: the picture shows where it left
            points.Add(w);
        }
        return points;
    }

    /// <summary>FOP at w on a batch split into halves, with every intermediate vector (per-layer pieces stitched into the plane).</summary>
    public static FopPicture Picture(TwoWeightProblem p, Vec2 w, IReadOnlyList<int> batch, TrajectoryOptions o)
    {
        if (batch.Count < 2) throw new ArgumentException("FOP needs at least two examples, one per half.");
        int n1 = (batch.Count + 1) / 2;
        var first = batch.Take(n1).ToArray();
        var second = batch.Skip(n1).ToArray();
        double share = (double)n1 / batch.Count;
        var g1 = p.Gradient(w, first).ToArray();
        var g2 = p.Gradient(w, second).ToArray();
        var gAvg = new double[2]; var gPerp = new double[2]; var kfac = new double[2]; var fop = new double[2];
        var fisher = new double[2, 2];
        var layers = new List<FopLayerDiagnostics>();
        var options = o.Fop;
        foreach (var block in p.Kfac(w, batch))
        {
            using var scope = torch.NewDisposeScope();
            using var f = Preconditioner(block, o.Damping);
            var (t1, t2) = (Row(block, g1), Row(block, g2));
            var projection = FisherOrthogonalProjection.Compute(block.Name, t1, t2, f, options, diagnostics: true, lr: o.Lr, firstWeight: share);
            layers.Add(projection.Diagnostics);
            var avg = t1 * share + t2 * (1 - share);
            Scatter(block, avg, gAvg);
            if (options.Projection) Scatter(block, t1 - t2 - avg * projection.Diagnostics.S, gPerp);
            Scatter(block, f.Inverse(avg), kfac);
            Scatter(block, projection.Update, fop);
            var dense = f.ToDense().data<double>().ToArray();
            int k = block.Weights.Length;
            for (int r = 0; r < k; r++)
                for (int c = 0; c < k; c++) fisher[block.Weights[r], block.Weights[c]] = dense[r * k + c];
            projection.Update.Dispose();
        }
        return new FopPicture(w, new Vec2(g1[0], g1[1]), new Vec2(g2[0], g2[1]), new Vec2(gAvg[0], gAvg[1]), new Vec2(gPerp[0], gPerp[1]),
            new Mat2(fisher[0, 0], fisher[0, 1], fisher[1, 0], fisher[1, 1]), new Vec2(kfac[0], kfac[1]), new Vec2(fop[0], fop[1]), layers);
    }

    static Vec2 Kfac(TwoWeightProblem p, Vec2 w, IReadOnlyList<int> batch, double damping)
    {
        var g = p.Gradient(w, batch).ToArray();
        var d = new double[2];
        foreach (var block in p.Kfac(w, batch))
        {
            using var scope = torch.NewDisposeScope();
            using var f = Preconditioner(block, damping);
            Scatter(block, f.Inverse(Row(block, g)), d);
        }
        return new Vec2(d[0], d[1]);
    }

    /// <summary>A block's entries of a plane vector as its 1 x k layer matrix (one output).</summary>
    static Tensor Row(KfacBlock block, double[] plane) => tensor(block.Weights.Select(i => plane[i]).ToArray(), float64).reshape(1, block.Weights.Length);

    /// <summary>Writes a block's 1 x k layer matrix back into its weights' places of a plane vector.</summary>
    static void Scatter(KfacBlock block, Tensor row, double[] plane)
    {
        var values = row.data<double>().ToArray();
        for (int r = 0; r < block.Weights.Length; r++) plane[block.Weights[r]] = values[r];
    }

    // Eigen-basis damping: the preconditioner is exactly (G ⊗ A + lambda I)⁻¹, comparable with (F + lambda I)⁻¹ of natural gradient.
    static KroneckerPreconditioner Preconditioner(KfacBlock block, double damping)
    {
        using var a = tensor(block.A, float64);
        using var g = tensor(new double[,] { { block.G } }, float64);
        return KroneckerPreconditioner.Build(DampingForm.Eigen, a, g, damping, block.Name);
    }
}
