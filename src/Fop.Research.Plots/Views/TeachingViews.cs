using Fop.Research.Plots.Figures;
using Fop.Research.Teaching;

namespace Fop.Research.Plots.Views;

/// <summary>Figures of the two-weight teaching problems: trajectories over the loss surface, FOP's vectors and the Fisher ellipse.</summary>
public static class TeachingViews
{
    /// <summary>Trajectories of the given methods over the loss contours of the problem (log loss colours).</summary>
    public static Figure Trajectories(TwoWeightProblem problem, IReadOnlyList<(string Label, IReadOnlyList<Vec2> Points)> paths, string title = "", string name = "trajectories", string caption = "")
    {
        // The loss surface covers the problem's view and every point of every path: a step that leaves the usual view is
        // drawn over the surface it lands on, never clipped away.
        var (x, y, z) = problem.LossGrid(view: Covering(problem.View, paths.SelectMany(p => p.Points)));
        var panel = new FieldPanel(title.Length > 0 ? title : problem.Name, "w1", "w2", x, y, z, "loss")
        {
            LogValues = true,
            // Every second path dashed: two methods on the same line (Newton and natural gradient on a quadratic) both stay visible.
            Paths = paths.Select((p, i) => new Series($"{p.Label} ({p.Points.Count - 1} steps)", p.Points.Select(v => v.X).ToArray(), p.Points.Select(v => v.Y).ToArray(),
                Markers: true, Dashed: i % 2 == 1)).ToList(),
            Markers = [new PointMarker("start", problem.Start.X, problem.Start.Y, Hollow: true)],
        };
        return new Figure(name, $"{problem.Name}: trajectories", [panel], caption, Columns: 1);
    }

    /// <summary>The smallest view that holds <paramref name="view"/> and every finite point, with a 5% margin where points lie outside.</summary>
    static (double X0, double X1, double Y0, double Y1) Covering((double X0, double X1, double Y0, double Y1) view, IEnumerable<Vec2> points)
    {
        var finite = points.Where(p => double.IsFinite(p.X) && double.IsFinite(p.Y)).ToList();
        if (finite.Count == 0) return view;
        double x0 = Math.Min(view.X0, finite.Min(p => p.X)), x1 = Math.Max(view.X1, finite.Max(p => p.X));
        double y0 = Math.Min(view.Y0, finite.Min(p => p.Y)), y1 = Math.Max(view.Y1, finite.Max(p => p.Y));
        double mx = (x1 - x0) * 0.05, my = (y1 - y0) * 0.05;
        return (x0 < view.X0 ? x0 - mx : x0, x1 > view.X1 ? x1 + mx : x1, y0 < view.Y0 ? y0 - my : y0, y1 > view.Y1 ? y1 + my : y1);
    }

    /// <summary>
    /// FOP's picture at one point: the loss contours around w, the halves' gradients g1 and g2, g_avg and the
    /// Fisher-orthogonal g_perp (drawn from w), the ellipse {w + v : vᵀ F v = |g_avg|_F²} of the damped KFAC Fisher FOP
    /// projects with (g_perp runs along its tangent where g_avg meets it), and the KFAC and FOP step directions; each
    /// group of arrows is scaled to be visible, with the factor in the legend.
    /// </summary>
    public static Figure FopPicture(TwoWeightProblem problem, FopPicture picture, double span = 1.5, string name = "fop-picture")
    {
        var w = picture.W;
        // An arrow is a polyline from w to the tip and back along the two strokes of its head, so its direction reads in any renderer.
        Series Arrow(string label, Vec2 v, bool dashed = false)
        {
            var tip = w + v;
            double angle = Math.Atan2(v.Y, v.X), head = 0.12 * v.Norm;
            Vec2 Stroke(double turn) => tip - head * new Vec2(Math.Cos(angle + turn), Math.Sin(angle + turn));
            var left = Stroke(0.45);
            var right = Stroke(-0.45);
            return new(label, [w.X, tip.X, left.X, tip.X, right.X], [w.Y, tip.Y, left.Y, tip.Y, right.Y], Dashed: dashed);
        }
        // Directions matter here, not lengths: the gradients share one scale (the longest spans half the view), g_perp
        // (much shorter at any but the smallest batches) and the two steps get their own, all written in the legend.
        double Scale(double length, double target) => length > 0 ? target / length : 1;
        double k = Scale(new[] { picture.G1, picture.G2, picture.GAvg }.Max(v => v.Norm), span / 2);
        double kPerp = Scale(picture.GPerp.Norm, span / 3);
        double kStep = Scale(Math.Max(picture.KfacDirection.Norm, picture.FopDirection.Norm), span * 0.6);
        var (e1, e2) = picture.Fisher.SymmetricEigen();
        double radius2 = (k * k) * picture.GAvg.Dot(picture.Fisher.Times(picture.GAvg));
        var angles = Enumerable.Range(0, 101).Select(i => 2 * Math.PI * i / 100).ToArray();
        Vec2 OnEllipse(double t) => w + Math.Sqrt(radius2 / e1.Value) * Math.Cos(t) * e1.Vector + Math.Sqrt(radius2 / e2.Value) * Math.Sin(t) * e2.Vector;
        var ellipse = new Series("Fisher ellipse v^T F v = |g_avg|_F^2", angles.Select(t => OnEllipse(t).X).ToArray(), angles.Select(t => OnEllipse(t).Y).ToArray(), Dashed: true);
        // The loss grid holds the whole ellipse and every arrow, so nothing drawn runs off the surface.
        var drawn = angles.Select(OnEllipse).Concat(new[] { k * picture.G1, k * picture.G2, k * picture.GAvg, kPerp * picture.GPerp,
            -kStep * picture.KfacDirection, -kStep * picture.FopDirection }.Select(v => w + v)).ToList();
        // Each axis spans what is drawn along it (at least span/2 each side of w): an ill-conditioned Fisher makes a tall, thin
        // ellipse, and a square view would shrink the arrows to nothing. Unequal axis scales keep tangents tangent.
        double halfX = Math.Max(span / 2, drawn.Max(p => Math.Abs(p.X - w.X)) * 1.1), halfY = Math.Max(span / 2, drawn.Max(p => Math.Abs(p.Y - w.Y)) * 1.1);
        int n = 41;
        var xs = Enumerable.Range(0, n).Select(i => w.X - halfX + 2 * halfX * i / (n - 1)).ToArray();
        var ys = Enumerable.Range(0, n).Select(i => w.Y - halfY + 2 * halfY * i / (n - 1)).ToArray();
        var z = ys.Select(y => xs.Select(x => problem.Loss(new Vec2(x, y))).ToArray()).ToArray();
        var betas = string.Join(", ", picture.Layers.Select(l => $"beta {l.Beta:F2}, eta {l.Eta:F2}"));
        var panel = new FieldPanel($"FOP at w = ({w.X:F2}, {w.Y:F2}): {betas}", "w1", "w2", xs, ys, z, "loss")
        {
            LogValues = true,
            Paths =
            [
                Arrow($"g1 (x{k:g3})", k * picture.G1), Arrow($"g2 (x{k:g3})", k * picture.G2), Arrow($"g_avg (x{k:g3})", k * picture.GAvg),
                Arrow($"g_perp (x{kPerp:g3}), F-orthogonal to g_avg", kPerp * picture.GPerp), ellipse,
                Arrow($"KFAC step -F^-1 g_avg (x{kStep:g3})", -kStep * picture.KfacDirection, dashed: true),
                Arrow($"FOP step -eta F^-1 (g_avg + beta g_perp) (x{kStep:g3})", -kStep * picture.FopDirection, dashed: true),
            ],
            Markers = [new PointMarker("w", w.X, w.Y)],
        };
        return new Figure(name, $"{problem.Name}: what FOP computes at one step", [panel],
            "Arrows start at w; each group has its own scale factor (in the legend), so compare directions, not lengths across groups. The two axes have different scales. " +
            "g_perp is the part of g1 - g2 that is orthogonal to g_avg in the Fisher metric: on the dashed ellipse it points along the tangent where g_avg's direction meets it. " +
            "FOP adds beta g_perp to g_avg before preconditioning; beta < 0 steps against the halves' disagreement.", Columns: 1);
    }
}
