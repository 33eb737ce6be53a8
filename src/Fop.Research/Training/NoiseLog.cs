using Fop.Research.Diagnostics;

namespace Fop.Research.Training;

/// <summary>The rows of noise.csv: gradient-noise statistics per measured step, overall ("all") and per layer, with the step's size and the distance travelled.</summary>
public static class NoiseLog
{
    /// <summary>CSV header.</summary>
    public const string Header = "step,epoch,layer,batch,grad_norm_sq,trace_sigma,noise_scale,cos_halves,norm_test,inner_product_test,orthogonality_test,update_norm,distance_from_init,alpha";

    /// <summary>The rows (cells) of one step; the update, distance and alpha columns are filled on the overall row only.</summary>
    public static IEnumerable<string[]> Rows(long step, int epoch, IEnumerable<(string Layer, NoiseEstimate Estimate)> estimates, double updateNorm, double distanceFromInit, double alpha = double.NaN) =>
        estimates.Select(e => new[]
        {
            LogCells.Int(step), LogCells.Int(epoch), e.Layer, LogCells.Int(e.Estimate.BatchSize), G(e.Estimate.GradientNormSq), G(e.Estimate.TraceSigma),
            G(e.Estimate.SimpleNoiseScale), G(e.Estimate.Cosine), G(e.Estimate.NormTest), G(e.Estimate.InnerProductTest), G(e.Estimate.OrthogonalityTest),
            e.Layer == "all" ? G(updateNorm) : "", e.Layer == "all" ? G(distanceFromInit) : "", e.Layer == "all" ? G(alpha) : "",
        });

    static string G(double v) => LogCells.G(v);
}
