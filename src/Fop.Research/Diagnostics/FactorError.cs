using Fop.Research.Curvature;
using Fop.Research.Optim;
using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;
using Fop.Research.Devices;

namespace Fop.Research.Diagnostics;

/// <summary>How far one layer's cheap Kronecker factors are from the full ones: relative Frobenius errors over seeded draws.</summary>
/// <param name="Layer">Layer name.</param>
/// <param name="ADim">Side of A.</param>
/// <param name="GDim">Side of G.</param>
/// <param name="AError">Mean over draws of |A_cheap - A_full|_F / |A_full|_F.</param>
/// <param name="GError">The same for G.</param>
public sealed record LayerFactorError(string Layer, long ADim, long GDim, double AError, double GError);

/// <summary>Compares KFAC's factors from cheap statistics (<c>factor_examples</c>, <c>conv_positions</c>) with those of the full batch.</summary>
public static class FactorError
{
    /// <summary>
    /// The Kronecker factors of every preconditioned layer of <paramref name="model"/> on one batch, with <paramref name="options"/>'
    /// statistics and draws seeded by <paramref name="seed"/> (step 0: always a curvature and inverse step, an EMA starts fresh).
    /// </summary>
    public static KfacCurvature Factors(Module<Tensor, Tensor> model, Tensor inputs, Tensor targets, KfacOptions options, Likelihood likelihood, long seed = 0, int microBatchSize = 0)
    {
        var curvature = new KfacCurvature(model, options, likelihood, seed);
        curvature.BeginStep(0);
        new GradientPass(model, likelihood, microBatchSize) { Recorder = curvature }.Accumulate(inputs, targets, inputs.shape[0]);
        curvature.GatherSubset(model, inputs, targets, 0, microBatchSize);
        curvature.EndStep(0, []);
        foreach (var p in model.parameters()) { using var g = p.grad; g?.zero_(); }
        return curvature;
    }

    /// <summary>
    /// Per layer, the relative Frobenius error of factors from <paramref name="cheap"/> statistics against those from
    /// <paramref name="full"/> statistics on the same batch, averaged over <paramref name="draws"/> seeds. A does not depend
    /// on labels; with the empirical Fisher G's error is that of the subsampling alone (Monte-Carlo labels add their own noise).
    /// </summary>
    public static IReadOnlyList<LayerFactorError> Compare(Module<Tensor, Tensor> model, Tensor inputs, Tensor targets, KfacOptions full, KfacOptions cheap,
        int draws = 5, int microBatchSize = 0, Likelihood? likelihood = null)
    {
        if (draws < 1) throw new ArgumentOutOfRangeException(nameof(draws), draws, "draws must be >= 1.");
        likelihood ??= Likelihood.Categorical;
        using var reference = Factors(model, inputs, targets, full, likelihood, 0, microBatchSize);
        var sums = new double[reference.Layers.Count, 2];
        for (int d = 0; d < draws; d++)
        {
            using var sample = Factors(model, inputs, targets, cheap, likelihood, d + 1, microBatchSize);
            for (int l = 0; l < reference.Layers.Count; l++)
            {
                sums[l, 0] += Relative(sample.Factors[l].A!, reference.Factors[l].A!);
                sums[l, 1] += Relative(sample.Factors[l].G!, reference.Factors[l].G!);
            }
        }
        return reference.Layers.Select((layer, l) => new LayerFactorError(layer.Name, reference.Factors[l].A!.shape[0], reference.Factors[l].G!.shape[0],
            sums[l, 0] / draws, sums[l, 1] / draws)).ToList();
    }

    static double Relative(Tensor estimate, Tensor exact)
    {
        using var scope = torch.NewDisposeScope();
        var e = exact.to_type(ScalarType.Float64);
        return HostReads.Scalar((estimate.to_type(ScalarType.Float64) - e).norm() / e.norm());
    }
}
