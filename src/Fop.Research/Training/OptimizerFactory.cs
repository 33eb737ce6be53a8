using Fop.Research.Curvature;
using Fop.Research.Optim;
using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Fop.Research.Training;

/// <summary>Builds the optimizer a config names.</summary>
public static class OptimizerFactory
{
    /// <summary>Creates sgd, adamw, kfac, fop, shampoo, soap or muon for <paramref name="model"/> with the config's settings.</summary>
    public static ModelOptimizer Create(RunConfig config, Module<Tensor, Tensor> model, Likelihood? likelihood = null)
    {
        likelihood ??= Likelihood.Categorical;
        ModelOptimizer optimizer = config.Optimizer switch
        {
            OptimizerKind.Sgd => FirstOrderOptimizer.Sgd(model, config.Sgd, likelihood, config.MicroBatchSize, config.GradClip),
            OptimizerKind.AdamW => FirstOrderOptimizer.AdamW(model, config.AdamW, likelihood, config.MicroBatchSize, config.GradClip),
            OptimizerKind.Kfac => new Kfac(model, config.Kfac, config.Tail, likelihood, config.MicroBatchSize, config.Seed),
            OptimizerKind.Fop => new FopOptimizer(model, config.Fop, config.Kfac, config.Tail, likelihood, config.MicroBatchSize, config.Seed),
            OptimizerKind.Shampoo => new Shampoo(model, config.Shampoo, likelihood, config.MicroBatchSize, config.GradClip),
            OptimizerKind.Soap => new Soap(model, config.Soap, likelihood, config.MicroBatchSize, config.GradClip),
            OptimizerKind.Muon => new Muon(model, config.Muon, likelihood, config.MicroBatchSize, config.GradClip),
            _ => throw new ArgumentOutOfRangeException(nameof(config), config.Optimizer, "not an optimizer this factory builds."),
        };
        optimizer.RunningStatistics = config.BatchNormRunningStats;
        return optimizer;
    }
}
