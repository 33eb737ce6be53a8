namespace Fop.Research.Optim;

/// <summary>FOP's internals for one layer at one step (fop-method.md §2 and §2b).</summary>
/// <param name="Layer">Layer name.</param>
/// <param name="S">Projection coefficient s = &lt;g_diff, F g_avg&gt; / &lt;g_avg, F g_avg&gt;.</param>
/// <param name="Beta">Weight of g_perp in g_comb.</param>
/// <param name="Eta">Layer-wise step scale (1 when the scale is off).</param>
/// <param name="CosG1G2">Cosine between the two half-batch gradients (Euclidean), NaN when not computed.</param>
/// <param name="PerpRatio">|g_perp|_F / |g_avg|_F in the Fisher norm used by the projection, NaN when not computed.</param>
/// <param name="KlBase">KFAC part of the update's KL norm (lr^2 eta^2 g^T Q g), NaN when not computed.</param>
/// <param name="KlCross">Cross term 2 lr^2 eta^2 beta g^T Q g_perp, NaN when not computed.</param>
/// <param name="KlOrthogonal">Orthogonal term lr^2 eta^2 beta^2 g_perp^T Q g_perp, NaN when not computed.</param>
public sealed record FopLayerDiagnostics(string Layer, double S, double Beta, double Eta, double CosG1G2 = double.NaN, double PerpRatio = double.NaN,
    double KlBase = double.NaN, double KlCross = double.NaN, double KlOrthogonal = double.NaN);

/// <summary>FOP's internals for one step: per layer and aggregated.</summary>
public sealed record FopDiagnostics(IReadOnlyList<FopLayerDiagnostics> Layers, double CosG1G2)
{
    /// <summary>Mean beta over layers.</summary>
    public double MeanBeta => Layers.Count == 0 ? double.NaN : Layers.Average(l => l.Beta);
    /// <summary>Mean eta over layers.</summary>
    public double MeanEta => Layers.Count == 0 ? double.NaN : Layers.Average(l => l.Eta);
    /// <summary>Mean projection coefficient over layers.</summary>
    public double MeanS => Layers.Count == 0 ? double.NaN : Layers.Average(l => l.S);
    /// <summary>Mean Fisher-norm ratio |g_perp|/|g_avg| over layers.</summary>
    public double MeanPerpRatio => Layers.Count == 0 ? double.NaN : Layers.Average(l => l.PerpRatio);
    /// <summary>Sum over layers of the KL base term.</summary>
    public double KlBase => Layers.Sum(l => l.KlBase);
    /// <summary>Sum over layers of the KL cross term.</summary>
    public double KlCross => Layers.Sum(l => l.KlCross);
    /// <summary>Sum over layers of the KL orthogonal term.</summary>
    public double KlOrthogonal => Layers.Sum(l => l.KlOrthogonal);
}
