using Fop.Research.Diagnostics;
using Fop.Research.Plots.Figures;

namespace Fop.Research.Plots.Views;

/// <summary>Figures of loss landscapes, the FOP plane and sharpness.</summary>
public static class LandscapeViews
{
    /// <summary>1-D curves (interpolations, random slices) in one panel, loss on a log axis, accuracy in a second.</summary>
    public static Figure Curves(string name, string title, string xLabel, IReadOnlyList<LandscapeCurve> curves, string caption = "") =>
        new(name, title,
        [
            new LinePanel("loss", xLabel, "evaluation loss", curves.Select(c => new Series(c.Label, c.Alphas.ToArray(), c.Points.Select(p => p.Loss).ToArray(), Markers: true)).ToList()) { LogY = true },
            new LinePanel("accuracy", xLabel, "accuracy (%)", curves.Select(c => new Series(c.Label, c.Alphas.ToArray(), c.Points.Select(p => 100 * p.Accuracy).ToArray(), Markers: true)).ToList()),
        ], caption);

    /// <summary>A 2-D landscape as filled contours (PNG) and contour plus 3-D surface (HTML).</summary>
    public static Figure Surface(string name, string title, LandscapeSurface surface, string xLabel = "alpha (direction 1)", string yLabel = "beta (direction 2)", string caption = "") =>
        new(name, title, [new FieldPanel(surface.Label, xLabel, yLabel, surface.Alphas.ToArray(), surface.Betas.ToArray(), surface.LossByBetaThenAlpha(), "loss") { Surface = true, LogValues = true }], caption, Columns: 1);

    /// <summary>The FOP plane with the SGD, KFAC and FOP steps marked and their losses in the labels.</summary>
    public static Figure Plane(string name, FopPlaneView plane, double originLoss, string caption = "")
    {
        var markers = plane.Steps.Select(s => new PointMarker($"{s.Label} ({s.Point.Loss:F3}{(s.OutOfPlane > 0.05 ? $", {100 * s.OutOfPlane:F0}% off-plane" : "")})", s.A, s.B))
            .Prepend(new PointMarker($"theta ({originLoss:F3})", 0, 0, Hollow: true)).ToList();
        var panel = new FieldPanel("loss on the plane of g_avg and g_perp", "along -g_avg (1 = one SGD step)", "along -g_perp (orthogonalised)",
            plane.Surface.Alphas.ToArray(), plane.Surface.Betas.ToArray(), plane.Surface.LossByBetaThenAlpha(), "loss") { Markers = markers, Surface = true, LogValues = true };
        return new Figure(name, "The FOP plane at one step", [panel],
            caption.Length > 0 ? caption : $"Both axes are in units of the SGD step lr |g_avg| = {plane.StepLength:g3}; |g_perp| / |g_avg| = {plane.PerpToAvgRatio:g3}. " +
            "Labels give the loss where each optimizer's step really lands (and how much of the step lies off the plane).", Columns: 1);
    }
}
