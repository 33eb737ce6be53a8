using Fop.Research.Curvature;
using Fop.Research.Optim;
using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Fop.Research.Diagnostics;

/// <summary>Where one optimizer's step lands in the FOP plane.</summary>
/// <param name="Label">sgd, kfac or fop.</param>
/// <param name="A">Coordinate along -g_avg (1 = the SGD step).</param>
/// <param name="B">Coordinate along -g_perp (orthogonalised against g_avg).</param>
/// <param name="OutOfPlane">|step - its projection| / |step|: how much of the step the plane does not show.</param>
/// <param name="Point">Loss and accuracy at the step's true end point (not its projection).</param>
public sealed record PlaneStep(string Label, double A, double B, double OutOfPlane, LandscapePoint Point);

/// <summary>The 2-D slice spanned by g_avg and g_perp at one step (the paper's Fig. 1 idea), with the steps marked.</summary>
/// <param name="Surface">Loss on the grid theta + a e1 + b e2, both directions as long as the SGD step.</param>
/// <param name="Steps">Where the SGD, KFAC and FOP steps of this batch land.</param>
/// <param name="StepLength">The length of the SGD step lr |g_avg| (the unit of both axes).</param>
/// <param name="PerpToAvgRatio">|g_perp| / |g_avg| (Euclidean), the length of the second axis before rescaling.</param>
public sealed record FopPlaneView(LandscapeSurface Surface, IReadOnlyList<PlaneStep> Steps, double StepLength, double PerpToAvgRatio)
{
    /// <summary>
    /// Computes the plane at the model's current weights for one batch: g1 and g2 from its halves, one plain step of SGD,
    /// KFAC and FOP (fresh curvature from this batch, no momentum or weight decay) taken on copies made by
    /// <paramref name="newModel"/>, and FOP's own projection coefficients s for g_perp = g_diff - s g_avg per layer.
    /// The model's weights and buffers are unchanged afterwards.
    /// </summary>
    public static FopPlaneView Compute(Module<Tensor, Tensor> model, Func<Module<Tensor, Tensor>> newModel, Tensor inputs, Tensor targets,
        LossLandscape landscape, KfacOptions kfac, FopOptions fop, double lr, int gridSize = 21, int microBatchSize = 0, long seed = 0)
    {
        var saved = model.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.detach().clone());
        var plainKfac = kfac with { CurvatureInterval = 1, InverseInterval = 1, EmaDecay = null, KlClip = null };
        var plainFop = fop with { DiagnosticsInterval = 1 };
        var theta = landscape.Origin;
        var deltas = new Dictionary<string, ParameterVector>();
        FopDiagnostics? diagnostics = null;
        try
        {
            foreach (var kind in new[] { "sgd", "kfac", "fop" })
            {
                using var copy = newModel();
                copy.load_state_dict(saved);
                copy.train();
                using ModelOptimizer opt = kind switch
                {
                    "sgd" => FirstOrderOptimizer.Sgd(copy, new SgdOptions(0, false, 0), microBatchSize: microBatchSize),
                    "kfac" => new Kfac(copy, plainKfac, TailOptions.Plain, microBatchSize: microBatchSize, seed: seed),
                    _ => new FopOptimizer(copy, plainFop, plainKfac, TailOptions.Plain, microBatchSize: microBatchSize, seed: seed),
                };
                var result = opt.Step(inputs, targets, lr);
                if (result.Skipped) throw new InvalidOperationException($"the {kind} step on this batch was refused: {result.Message}");
                if (opt is FopOptimizer f) diagnostics = f.LastDiagnostics;
                using var after = ParameterVector.Of(copy);
                deltas[kind] = after.Combine(1, theta, -1);
            }

            // g1 and g2 from the halves, at theta, in train mode like the steps themselves.
            model.train();
            foreach (var p in model.parameters()) { using var g = p.grad; g?.zero_(); }
            var dual = new HalfBatchSplit(plainFop.SplitAtChunk).Compute(new GradientPass(model, Likelihood.Categorical, microBatchSize), inputs, targets,
                () => model.named_parameters().Where(p => p.parameter.requires_grad).Select(p =>
                {
                    using var g = p.parameter.grad;
                    var copy = g is null ? torch.zeros_like(p.parameter) : g.detach().clone();
                    g?.zero_();
                    return copy;
                }).ToList());
            // The halves ran in train mode: put back theta's buffers (BatchNorm statistics) before anything is evaluated.
            model.load_state_dict(saved);
            var names = theta.Names.ToList();
            using var gAvg = new ParameterVector(names.Select((n, i) => (n, dual.Average(i))));
            var s = (diagnostics?.Layers ?? []).ToDictionary(l => l.Layer, l => l.S);
            using var gPerp = new ParameterVector(names.Select((n, i) =>
            {
                var layer = n.EndsWith(".weight") ? n[..^7] : n.EndsWith(".bias") ? n[..^5] : n;
                var diff = dual.First[i] - dual.Second[i];
                return (n, s.TryGetValue(layer, out var sl) ? diff - gAvg[n] * sl : torch.zeros_like(diff));
            }));
            foreach (var t in dual.First.Concat(dual.Second)) t.Dispose();

            double avgNorm = gAvg.Norm();
            if (!(avgNorm > 0)) throw new InvalidOperationException("the mean gradient is zero on this batch: no plane to draw.");
            double length = lr * avgNorm;
            using var e1 = gAvg.Scale(-length / avgNorm);
            double along = gPerp.Dot(gAvg) / (avgNorm * avgNorm);
            using var perpOrth = gPerp.Combine(1, gAvg, -along);
            double perpNorm = perpOrth.Norm();
            using var e2 = perpNorm > 0 ? perpOrth.Scale(-length / perpNorm) : gAvg.Scale(0);

            var steps = new List<PlaneStep>();
            double reach = 1;
            foreach (var (kind, d) in deltas)
            {
                double a = d.Dot(e1) / (length * length), b = perpNorm > 0 ? d.Dot(e2) / (length * length) : 0;
                using var projection = e1.Combine(a, e2, b);
                using var residual = d.Combine(1, projection, -1);
                double dn = d.Norm();
                steps.Add(new PlaneStep(kind, a, b, dn > 0 ? residual.Norm() / dn : 0, landscape.At(d, 1)));
                reach = Math.Max(reach, Math.Max(Math.Abs(a), Math.Abs(b)));
            }
            var range = LossLandscape.Range(-1.25 * reach, 1.25 * reach, gridSize);
            var surface = landscape.Grid("fop-plane", e1, e2, range, range);
            return new FopPlaneView(surface, steps, length, avgNorm > 0 ? gPerp.Norm() / avgNorm : double.NaN);
        }
        finally
        {
            model.load_state_dict(saved);
            foreach (var t in saved.Values) t.Dispose();
            foreach (var d in deltas.Values) d.Dispose();
        }
    }
}
