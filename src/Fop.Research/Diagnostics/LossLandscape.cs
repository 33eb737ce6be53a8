using Fop.Research.Curvature;
using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;
using Fop.Research.Randomness;

namespace Fop.Research.Diagnostics;

/// <summary>Loss and accuracy at one point of a landscape.</summary>
public readonly record struct LandscapePoint(double Loss, double Accuracy);

/// <summary>A 1-D landscape: loss and accuracy at each coordinate along a direction.</summary>
public sealed record LandscapeCurve(string Label, IReadOnlyList<double> Alphas, IReadOnlyList<LandscapePoint> Points);

/// <summary>A 2-D landscape: loss (and accuracy) on a grid, Points[i, j] at (Alphas[i], Betas[j]).</summary>
public sealed record LandscapeSurface(string Label, IReadOnlyList<double> Alphas, IReadOnlyList<double> Betas, LandscapePoint[,] Points)
{
    /// <summary>The loss grid as a jagged array, rows along beta (what contour and surface plots take).</summary>
    public double[][] LossByBetaThenAlpha() => Betas.Select((_, j) => Alphas.Select((_, i) => Points[i, j].Loss).ToArray()).ToArray();
}

/// <summary>
/// Loss landscapes around trained weights theta (Goodfellow et al. 2015; Li et al. 2018): interpolation between two
/// solutions, slices along filter-normalised random directions, 2-D grids. Always in eval mode (BatchNorm running
/// statistics stay those of theta), without augmentation, on one fixed evaluation subset; the model's weights are
/// restored to theta after every evaluation.
/// </summary>
public sealed class LossLandscape : IDisposable
{
    readonly Module<Tensor, Tensor> model;
    readonly Tensor inputs, targets;
    readonly int batchSize;
    readonly Likelihood likelihood;

    /// <summary>Probes <paramref name="model"/> at its current weights on the evaluation subset (inputs already normalised, on the model's device).</summary>
    public LossLandscape(Module<Tensor, Tensor> model, Tensor inputs, Tensor targets, int batchSize = 1000, Likelihood? likelihood = null)
    {
        if (inputs.shape[0] != targets.shape[0] || inputs.shape[0] == 0) throw new ArgumentException($"{inputs.shape[0]} inputs and {targets.shape[0]} targets: need the same positive number.");
        if (batchSize < 1) throw new ArgumentOutOfRangeException(nameof(batchSize), batchSize, "batch size must be >= 1.");
        this.model = model;
        this.inputs = inputs.DetachFromDisposeScope();
        this.targets = targets.DetachFromDisposeScope();
        this.batchSize = batchSize;
        this.likelihood = likelihood ?? Likelihood.Categorical;
        Origin = ParameterVector.Of(model);
    }

    /// <summary>The weights theta the landscape is centred on.</summary>
    public ParameterVector Origin { get; }
    /// <summary>Called after each evaluated point with (done, total) of the current curve or grid.</summary>
    public Action<int, int>? OnProgress { get; init; }

    /// <summary>Mean loss and accuracy of the model as it is now, in eval mode, on the subset.</summary>
    public LandscapePoint Evaluate()
    {
        bool wasTraining = model.training;
        model.eval();
        using var noGrad = torch.no_grad();
        double loss = 0;
        long correct = 0, n = inputs.shape[0];
        for (long start = 0; start < n; start += batchSize)
        {
            using var scope = torch.NewDisposeScope();
            long size = Math.Min(batchSize, n - start);
            var outputs = model.call(inputs.narrow(0, start, size));
            var y = targets.narrow(0, start, size);
            loss += likelihood.LossSum(outputs, y).to_type(ScalarType.Float64).item<double>();
            correct += likelihood.Correct(outputs, y);
        }
        if (wasTraining) model.train();
        return new LandscapePoint(loss / n, correct / (double)n);
    }

    /// <summary>Loss at theta + a d1 + b d2; theta is restored afterwards.</summary>
    public LandscapePoint At(ParameterVector? d1, double a, ParameterVector? d2 = null, double b = 0)
    {
        try
        {
            ParameterVector.Assign(model, Origin, d1, a, d2, b);
            return Evaluate();
        }
        finally { ParameterVector.Assign(model, Origin); }
    }

    /// <summary>
    /// A filter-normalised Gaussian direction (Li et al. 2018): each output filter (conv) or row (linear) of a weight is
    /// rescaled to that filter's norm in theta. One-dimensional parameters (biases, normalisation scales and shifts) get a
    /// zero direction unless <paramref name="includeBiasAndNorm"/>, which rescales each of them to its own norm.
    /// </summary>
    public ParameterVector FilterNormalizedDirection(SeededRandom random, bool includeBiasAndNorm = false) =>
        FilterNormalized(Origin, random, includeBiasAndNorm);

    /// <summary>The filter-normalised direction of <see cref="FilterNormalizedDirection"/> for any weights.</summary>
    public static ParameterVector FilterNormalized(ParameterVector theta, SeededRandom random, bool includeBiasAndNorm = false) => new(theta.Names.Select(name =>
    {
        using var scope = torch.NewDisposeScope();
        var w = theta[name];
        var d = random.Normal(w.shape, w.device, w.dtype);
        Tensor result;
        if (w.dim() >= 2)
        {
            var shape = new long[w.dim()];
            shape[0] = w.shape[0];
            for (int i = 1; i < shape.Length; i++) shape[i] = 1;
            var wNorm = w.flatten(1).norm(1, keepdim: false).reshape(shape);
            var dNorm = d.flatten(1).norm(1, keepdim: false).reshape(shape);
            result = d * (wNorm / (dNorm + 1e-10));
        }
        else result = includeBiasAndNorm ? d * (w.norm() / (d.norm() + 1e-10)) : torch.zeros_like(w);
        return (name, result.MoveToOuterDisposeScope());
    }));

    /// <summary>Loss along theta + alpha d for each alpha.</summary>
    public LandscapeCurve Slice(string label, ParameterVector direction, IReadOnlyList<double> alphas)
    {
        var points = new List<LandscapePoint>(alphas.Count);
        foreach (var a in alphas)
        {
            points.Add(At(direction, a));
            OnProgress?.Invoke(points.Count, alphas.Count);
        }
        return new LandscapeCurve(label, alphas, points);
    }

    /// <summary>The line theta(alpha) = (1 - alpha) theta + alpha theta' (Goodfellow et al. 2015); alpha 0 is theta, 1 is <paramref name="other"/>.</summary>
    public LandscapeCurve Interpolate(string label, ParameterVector other, IReadOnlyList<double> alphas)
    {
        using var direction = other.Combine(1, Origin, -1);
        return Slice(label, direction, alphas);
    }

    /// <summary>Loss on the grid theta + alpha d1 + beta d2.</summary>
    public LandscapeSurface Grid(string label, ParameterVector d1, ParameterVector d2, IReadOnlyList<double> alphas, IReadOnlyList<double> betas)
    {
        var points = new LandscapePoint[alphas.Count, betas.Count];
        int done = 0, total = alphas.Count * betas.Count;
        for (int i = 0; i < alphas.Count; i++)
        for (int j = 0; j < betas.Count; j++)
        {
            points[i, j] = At(d1, alphas[i], d2, betas[j]);
            OnProgress?.Invoke(++done, total);
        }
        return new LandscapeSurface(label, alphas, betas, points);
    }

    /// <summary>Evenly spaced values from <paramref name="from"/> to <paramref name="to"/> inclusive.</summary>
    public static double[] Range(double from, double to, int count) =>
        count < 2 ? [from] : Enumerable.Range(0, count).Select(i => from + (to - from) * i / (count - 1)).ToArray();

    /// <inheritdoc />
    public void Dispose()
    {
        ParameterVector.Assign(model, Origin);
        Origin.Dispose();
    }
}
