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
            "sgd" => FirstOrderOptimizer.Sgd(model, config.Sgd, likelihood, config.MicroBatchSize, config.GradClip),
            "adamw" => FirstOrderOptimizer.AdamW(model, config.AdamW, likelihood, config.MicroBatchSize, config.GradClip),
            "kfac" => new Kfac(model, config.Kfac, config.Tail, likelihood, config.MicroBatchSize, config.Seed),
            "fop" => new FopOptimizer(model, config.Fop, config.Kfac, config.Tail, likelihood, config.MicroBatchSize, config.Seed),
            "shampoo" => new Shampoo(model, config.Shampoo, likelihood, config.MicroBatchSize, config.GradClip),
            "soap" => new Soap(model, config.Soap, likelihood, config.MicroBatchSize, config.GradClip),
            "muon" => new Muon(model, config.Muon, likelihood, config.MicroBatchSize, config.GradClip),
            _ => throw new ArgumentException($"optimizer '{config.Optimizer}' is not one of {string.Join(", ", RunConfig.Optimizers)}."),
        };
        optimizer.RunningStatistics = config.BatchNormRunningStats;
        return optimizer;
    }
}
