using Fop.Research.Studies;
using Fop.Research.Training;
using Microsoft.Data.Analysis;

namespace Fop.Research.Plots.Views;

/// <summary>The paper's experiments as tables: the committed configs, the paper's numbers, and runs next to them.</summary>
public static class ExperimentTables
{
    /// <summary>Every config file in a folder (e.g. experiments/configs/cifar10-resnet18): the settings that tell them apart.</summary>
    public static DataFrame Configs(string folder)
    {
        var configs = Directory.GetFiles(folder, "*.json").Order(StringComparer.Ordinal).Select(f => ConfigFile.Load(f)).ToList();
        if (configs.Count == 0) throw new ArgumentException($"{folder}: no config files (*.json).");
        return new DataFrame(
            new StringDataFrameColumn("name", configs.Select(c => c.Name)),
            new StringDataFrameColumn("model", configs.Select(c => c.ModelName)),
            new StringDataFrameColumn("optimizer", configs.Select(c => c.OptimizerName)),
            new Int32DataFrameColumn("batch", configs.Select(c => c.BatchSize)),
            new Int32DataFrameColumn("micro_batch", configs.Select(c => c.MicroBatchSize)),
            new DoubleDataFrameColumn("lr", configs.Select(c => c.Lr)),
            new Int32DataFrameColumn("epochs", configs.Select(c => c.Epochs)),
            new DoubleDataFrameColumn("target", configs.Select(c => c.TargetAccuracy ?? double.NaN)),
            new DoubleDataFrameColumn("imbalance", configs.Select(c => c.ImbalanceFactor)));
    }

    /// <summary>A paper time-to-target table: one row per batch and optimizer ("-" where the paper's method did not reach the target).</summary>
    public static DataFrame Paper(IEnumerable<PaperTimeToTarget> cells)
    {
        var list = cells.ToList();
        return new DataFrame(
            new Int32DataFrameColumn("batch", list.Select(c => c.Batch)),
            new StringDataFrameColumn("optimizer", list.Select(c => c.Optimizer)),
            new StringDataFrameColumn("paper: epochs / time to target", list.Select(c => c.Epochs is int e ? $"{e} / {c.Time:0.0} {c.TimeUnit}" : "- (not reached)")));
    }

    /// <summary>
    /// Runs next to the paper's cell for the same batch and optimizer: best accuracy, epochs and training seconds to the
    /// run's target. <paramref name="label"/> says what the runs were on (e.g. "stand-in data, CPU"), so the two are never mistaken
    /// for each other; <paramref name="paperBatch"/> picks the paper's row when the runs used another batch (a smoke run of a config).
    /// </summary>
    public static DataFrame SideBySide(IEnumerable<RunSummary> runs, IEnumerable<PaperTimeToTarget> paper, string label, int? paperBatch = null)
    {
        var table = paper.ToList();
        var list = runs.ToList();
        return new DataFrame(
            new StringDataFrameColumn("optimizer", list.Select(r => r.Optimizer)),
            new Int32DataFrameColumn("batch", list.Select(r => r.BatchSize)),
            new StringDataFrameColumn("paper", list.Select(r => table.FirstOrDefault(c => c.Batch == (paperBatch ?? r.BatchSize) && c.Optimizer == r.Optimizer) is { } c
                ? $"batch {c.Batch}: " + (c.Epochs is int e ? $"{e} ep / {c.Time:0.0} {c.TimeUnit}" : "not reached") : "not in the paper")),
            new StringDataFrameColumn("this run", list.Select(_ => label)),
            new DoubleDataFrameColumn("best accuracy", list.Select(r => r.BestTestAccuracy)),
            new StringDataFrameColumn("epochs / train s to target", list.Select(r => r.TimeToTarget is { } t ? $"{t.Epoch} / {t.TrainSeconds:0.0} s" : "not reached")),
            new DoubleDataFrameColumn("median ms/step", list.Select(r => r.MedianStepMs)));
    }

    /// <summary>The paper's long-tailed table (top-1 error %), one row per data set and imbalance factor, one column per method.</summary>
    public static DataFrame PaperLongTailed() => new(
        new StringDataFrameColumn("data set", PaperResults.LongTailed.GroupBy(e => (e.Dataset, e.ImbalanceFactor)).Select(g => $"{g.Key.Dataset}-LT IF {g.Key.ImbalanceFactor}")),
        new DoubleDataFrameColumn("sgd", PaperResults.LongTailed.Where(e => e.Method == "sgd").Select(e => e.ErrorPercent)),
        new DoubleDataFrameColumn("kfac", PaperResults.LongTailed.Where(e => e.Method == "kfac").Select(e => e.ErrorPercent)),
        new DoubleDataFrameColumn("fop", PaperResults.LongTailed.Where(e => e.Method == "fop").Select(e => e.ErrorPercent)));
}
