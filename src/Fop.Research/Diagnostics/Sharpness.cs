using Fop.Research.Curvature;
using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;
using Fop.Research.Randomness;

namespace Fop.Research.Diagnostics;

/// <summary>The sharpness of a solution: top Hessian eigenvalues and the Hessian trace of the mean loss on a fixed batch.</summary>
/// <param name="TopEigenvalues">Largest eigenvalues, by power iteration with deflation.</param>
/// <param name="Trace">Hutchinson's estimate of tr H.</param>
/// <param name="TraceStdError">Standard error of <paramref name="Trace"/>.</param>
public sealed record SharpnessEstimate(IReadOnlyList<double> TopEigenvalues, double Trace, double TraceStdError);

/// <summary>
/// Hessian-vector products by double backward, and from them power iteration and Hutchinson's trace estimator
/// (PyHessian's method), in eval mode on a fixed batch.
/// </summary>
public static class Sharpness
{
    /// <summary>H v for the mean loss of <paramref name="model"/> on (inputs, targets).</summary>
    public static ParameterVector HessianVectorProduct(Module<Tensor, Tensor> model, Tensor inputs, Tensor targets, ParameterVector v, Likelihood? likelihood = null)
    {
        likelihood ??= Likelihood.Categorical;
        using var scope = torch.NewDisposeScope();
        var named = model.named_parameters().Where(p => p.parameter.requires_grad).ToList();
        var loss = likelihood.LossSum(model.call(inputs), targets) / inputs.shape[0];
        // TorchSharp, unlike PyTorch, does not default retain_graph to create_graph: without both the next grad aborts the process.
        var grads = torch.autograd.grad([loss], named.Select(p => (Tensor)p.parameter).ToList(), retain_graph: true, create_graph: true);
        Tensor dot = torch.zeros(1, dtype: grads[0].dtype, device: grads[0].device);
        for (int i = 0; i < named.Count; i++) dot = dot + (grads[i] * v[named[i].name]).sum();
        var hv = torch.autograd.grad([dot], named.Select(p => (Tensor)p.parameter).ToList(), retain_graph: false, create_graph: false, allow_unused: true);
        return new ParameterVector(named.Select((p, i) => (p.name, (hv[i] is null || hv[i].IsInvalid ? torch.zeros_like(p.parameter) : hv[i].detach().clone()).MoveToOuterDisposeScope())));
    }

    /// <summary>The <paramref name="count"/> largest eigenvalues (by algebraic value) by power iteration, deflating the ones found.</summary>
    public static double[] TopEigenvalues(Module<Tensor, Tensor> model, Tensor inputs, Tensor targets, int count = 1, int maxIterations = 100, double tolerance = 1e-6,
        SeededRandom? random = null, Likelihood? likelihood = null)
    {
        if (count < 1) throw new ArgumentOutOfRangeException(nameof(count), count, "count must be >= 1.");
        bool training = model.training;
        model.eval();
        var found = new List<(double Value, ParameterVector Vector)>();
        try
        {
            for (int k = 0; k < count; k++)
            {
                var v = Normalized(Random(model, random, rademacher: false));
                double value = 0;
                for (int it = 0; it < maxIterations; it++)
                {
                    foreach (var (_, u) in found) { var c = v.Dot(u); var w = v.Combine(1, u, -c); v.Dispose(); v = w; }
                    using var hv = HessianVectorProduct(model, inputs, targets, v, likelihood);
                    double next = hv.Dot(v);
                    v.Dispose();
                    v = Normalized(hv.Scale(1));
                    bool converged = it > 0 && Math.Abs(next - value) <= tolerance * (Math.Abs(value) + 1e-12);
                    value = next;
                    if (converged) break;
                }
                found.Add((value, v));
            }
            // Deflation after an unconverged first vector can find a larger value second: report them in order.
            return found.Select(f => f.Value).OrderDescending().ToArray();
        }
        finally
        {
            foreach (var (_, vec) in found) vec.Dispose();
            if (training) model.train();
        }
    }

    /// <summary>Hutchinson's estimator tr H ~ mean of v^T H v over Rademacher vectors v, with its standard error.</summary>
    public static (double Trace, double StdError) HutchinsonTrace(Module<Tensor, Tensor> model, Tensor inputs, Tensor targets, int samples = 100,
        SeededRandom? random = null, Likelihood? likelihood = null)
    {
        if (samples < 2) throw new ArgumentOutOfRangeException(nameof(samples), samples, "samples must be >= 2.");
        bool training = model.training;
        model.eval();
        try
        {
            var values = new double[samples];
            for (int i = 0; i < samples; i++)
            {
                using var v = Random(model, random, rademacher: true);
                using var hv = HessianVectorProduct(model, inputs, targets, v, likelihood);
                values[i] = hv.Dot(v);
            }
            double mean = values.Average();
            double sd = Math.Sqrt(values.Sum(x => (x - mean) * (x - mean)) / (samples - 1));
            return (mean, sd / Math.Sqrt(samples));
        }
        finally { if (training) model.train(); }
    }

    /// <summary>Top eigenvalues and trace together.</summary>
    public static SharpnessEstimate Estimate(Module<Tensor, Tensor> model, Tensor inputs, Tensor targets, int eigenvalues = 1, int traceSamples = 50, long seed = 0)
    {
        using var g = new SeededRandom((ulong)seed);
        var top = TopEigenvalues(model, inputs, targets, eigenvalues, random: g);
        var (trace, se) = HutchinsonTrace(model, inputs, targets, traceSamples, g);
        return new SharpnessEstimate(top, trace, se);
    }

    /// <summary>A random direction in parameter space (Rademacher or Gaussian); without a stream, one seeded 0, so a call without one is still repeatable.</summary>
    static ParameterVector Random(Module model, SeededRandom? random, bool rademacher)
    {
        using var own = random is null ? new SeededRandom(0) : null;
        var r = random ?? own!;
        return new(model.named_parameters().Where(p => p.parameter.requires_grad).Select(p =>
        {
            Tensor t;
            if (rademacher)
            {
                using var bits = r.Integers(0, 2, p.parameter.shape, p.parameter.device, p.parameter.dtype);
                t = bits * 2 - 1;
            }
            else t = r.Normal(p.parameter.shape, p.parameter.device, p.parameter.dtype);
            return (p.name, t);
        }).ToList());
    }

    static ParameterVector Normalized(ParameterVector v)
    {
        double n = v.Norm();
        var result = v.Scale(n > 0 ? 1 / n : 1);
        v.Dispose();
        return result;
    }
}
