using Fop.Research.Curvature;
using Fop.Research.Models;
using Fop.Research.Optim;
using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;
using Fop.Research.Randomness;

namespace Fop.Research.Distributed;

/// <summary>One check of a data-parallel job: its name, the largest difference from one process, and the tolerance.</summary>
public sealed record DistributedCheckResult(string Name, double MaxDifference, double Tolerance)
{
    /// <summary>Whether the difference is within tolerance.</summary>
    public bool Passed => MaxDifference <= Tolerance;
}

/// <summary>
/// What `mpirun -np N fop distributed-check` verifies (issue 16): every rank trains the job's replica and, on its own, the
/// one-process reference on the same global batches, and compares. SGD, AdamW, KFAC and FOP on an MLP in float64 (FOP on
/// the golden MLP 5-4-3: equal halves must reproduce <see cref="Optim.FopOptimizer"/> to rounding); KFAC and FOP on a BatchNorm
/// ResNet in float32, the reference chunked as the ranks split the batch (each rank's rows are its ghost batch); and the
/// checkpoint state gathered from the layers' owners against the reference's. Factors use the empirical Fisher: Monte-Carlo
/// labels are drawn per rank, so they agree in distribution, not bit for bit.
/// </summary>
public static class DistributedCheck
{
    /// <summary>Runs every check; every rank returns the same results (differences are the maximum over ranks).</summary>
    public static IReadOnlyList<DistributedCheckResult> Run(DataParallel parallel, Action<string>? log = null)
    {
        var results = new List<DistributedCheckResult>();
        void Add(DistributedCheckResult r)
        {
            // The maximum over ranks, as the minimum of the negatives.
            using var max = torch.tensor(new[] { double.IsNaN(r.MaxDifference) ? double.NegativeInfinity : -r.MaxDifference });
            parallel.Communicator.AllReduceMin(max);
            var agreed = r with { MaxDifference = -max.item<double>() };
            results.Add(agreed);
            log?.Invoke($"{(agreed.Passed ? "pass" : "FAIL")}  {agreed.Name}: max difference {agreed.MaxDifference:g3} (tolerance {agreed.Tolerance:g3})");
        }
        foreach (var optimizer in new[] { "sgd", "adamw", "kfac", "fop" })
            Add(Compare(parallel, $"{optimizer}, MLP 20-16-5, float64, 4 steps", optimizer, () => new Mlp(20, [16], 5), [20], 5, ScalarType.Float64, 1e-10, micro: 0, steps: 4));
        Add(Compare(parallel, "fop, golden MLP 5-4-3, float64, equal halves, 3 steps", "fop", () => new Mlp(5, [4], 3), [5], 3, ScalarType.Float64, 1e-12, micro: 0, steps: 3));
        foreach (var optimizer in new[] { "sgd", "kfac", "fop" })
            Add(Compare(parallel, $"{optimizer}, ResNet-32 with BatchNorm, float32, 2 steps (reference chunked like the ranks)", optimizer,
                () => ResNet.Cifar32(5, 3), [3, 8, 8], 5, ScalarType.Float32, 2e-4, micro: -1, steps: 2));
        Add(CheckpointGather(parallel));
        return results;
    }

    static ModelOptimizer Create(string optimizer, Module<Tensor, Tensor> model, int micro)
    {
        var kfac = KfacOptions.Paper with { Fisher = FisherType.Empirical, CurvatureInterval = 2, InverseInterval = 2, Damping = new ValueSchedule(0.01) };
        return optimizer switch
        {
            "sgd" => FirstOrderOptimizer.Sgd(model, SgdOptions.Paper, microBatchSize: micro),
            "adamw" => FirstOrderOptimizer.AdamW(model, AdamWOptions.Default, microBatchSize: micro),
            "kfac" => new Kfac(model, kfac, microBatchSize: micro, seed: 1),
            "fop" => new FopOptimizer(model, FopOptions.Paper with { DiagnosticsInterval = 0 }, kfac, microBatchSize: micro, seed: 1),
            _ => throw new ArgumentException($"optimizer '{optimizer}' unknown."),
        };
    }

    /// <summary>The same global batches on every rank (a seeded CPU generator): the batch size gives every rank of up to 8 at least one row of each half.</summary>
    static IReadOnlyList<(Tensor X, Tensor Y)> Batches(long[] shape, int classes, ScalarType dtype, int steps, long batch)
    {
        using var random = new SeededRandom(17);
        return Enumerable.Range(0, steps).Select(_ =>
            (random.Normal([batch, .. shape], torch.CPU).to_type(dtype), random.Integers(0, classes, [batch], torch.CPU))).ToList();
    }

    static (Module<Tensor, Tensor> Model, ModelOptimizer Optimizer) Train(DataParallel? parallel, string optimizer, Func<Module<Tensor, Tensor>> build,
        IReadOnlyList<(Tensor X, Tensor Y)> batches, ScalarType dtype, int micro)
    {
        torch.manual_seed(5);
        var model = build();
        model.to(dtype);
        var opt = Create(optimizer, model, micro);
        if (parallel is not null) opt.Distribute(parallel);
        foreach (var (x, y) in batches)
        {
            var result = opt.Step(x, y, 0.05);
            if (result.Skipped) throw new InvalidOperationException($"{optimizer}: a check step was refused ({result.Message}).");
        }
        return (model, opt);
    }

    static DistributedCheckResult Compare(DataParallel parallel, string name, string optimizer, Func<Module<Tensor, Tensor>> build, long[] shape, int classes,
        ScalarType dtype, double tolerance, int micro, int steps)
    {
        using var scope = torch.NewDisposeScope();
        long batch = 48;
        var batches = Batches(shape, classes, dtype, steps, batch);
        // micro -1: the reference runs in chunks of the ranks' rows (FOP: of each half's share), the job unchunked.
        int shard = (int)(optimizer == "fop" ? batch / 2 / Math.Max(1, parallel.Size / 2) : batch / parallel.Size);
        var (job, jobOptimizer) = Train(parallel, optimizer, build, batches, dtype, micro < 0 ? 0 : micro);
        var (reference, referenceOptimizer) = Train(null, optimizer, build, batches, dtype, micro < 0 ? shard : micro);
        double diff = Difference(job.parameters().Concat(job.buffers().Where(b => b.is_floating_point())).ToList(),
            reference.parameters().Concat(reference.buffers().Where(b => b.is_floating_point())).ToList());
        jobOptimizer.Dispose();
        referenceOptimizer.Dispose();
        return new DistributedCheckResult(name, diff, tolerance);
    }

    /// <summary>The largest absolute difference relative to the reference's largest magnitude, over all tensors.</summary>
    static double Difference(IReadOnlyList<Tensor> a, IReadOnlyList<Tensor> b)
    {
        double worst = 0;
        for (int i = 0; i < a.Count; i++)
        {
            double scale = Math.Max(1e-30, b[i].abs().max().to_type(ScalarType.Float64).item<double>());
            worst = Math.Max(worst, (a[i] - b[i]).abs().max().to_type(ScalarType.Float64).item<double>() / scale);
        }
        return worst;
    }

    /// <summary>The optimizer state a job writes to a checkpoint (factors gathered from their owners) equals one process's, entry by entry.</summary>
    static DistributedCheckResult CheckpointGather(DataParallel parallel)
    {
        using var scope = torch.NewDisposeScope();
        var batches = Batches([20], 5, ScalarType.Float64, 3, 48);
        var (_, job) = Train(parallel, "fop", () => new Mlp(20, [16, 8], 5), batches, ScalarType.Float64, 0);
        var (_, reference) = Train(null, "fop", () => new Mlp(20, [16, 8], 5), batches, ScalarType.Float64, 0);
        var a = job.StateDict();
        var b = reference.StateDict();
        double diff = a.Keys.Order().SequenceEqual(b.Keys.Order()) ? Difference(b.Keys.Order().Select(k => a[k].to_type(ScalarType.Float64)).ToList(), b.Keys.Order().Select(k => b[k].to_type(ScalarType.Float64)).ToList()) : double.PositiveInfinity;
        job.Dispose();
        reference.Dispose();
        return new DistributedCheckResult("fop checkpoint state gathered from the layers' owners equals one process's", diff, 1e-10);
    }
}
