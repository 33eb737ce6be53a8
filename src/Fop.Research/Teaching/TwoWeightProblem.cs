namespace Fop.Research.Teaching;

/// <summary>The likelihood of a two-weight problem: what its loss, residual and Fisher weight are.</summary>
public enum OutputNoise
{
    /// <summary>y ~ N(f, 1): loss (f - y)² / 2, residual f - y, Fisher weight 1 (Fisher = Gauss-Newton).</summary>
    Gaussian,
    /// <summary>y ~ Bernoulli(sigmoid f): loss softplus(f) - y f, residual sigmoid(f) - y, Fisher weight p (1 - p).</summary>
    Bernoulli,
}

/// <summary>One layer of a two-weight model for KFAC: which weights it holds, its input factor A and output-gradient factor G (a 1x1 G: one output).</summary>
public sealed record KfacBlock(string Name, int[] Weights, double[,] A, double G);

/// <summary>
/// A model with two weights and one scalar output per example on a small data set, where everything a second-order
/// method uses can be computed exactly and drawn: the loss surface, the gradient of any subset, the Hessian, the exact
/// Fisher E[Λ J Jᵀ] and KFAC's per-layer factors. Used to teach natural gradient, KFAC and FOP in the plane.
/// </summary>
public abstract class TwoWeightProblem
{
    /// <summary>Inputs, one row per example.</summary>
    public double[][] Inputs { get; }
    /// <summary>Targets.</summary>
    public double[] Targets { get; }
    /// <summary>A short name for titles.</summary>
    public abstract string Name { get; }
    /// <summary>The likelihood.</summary>
    public abstract OutputNoise Noise { get; }
    /// <summary>A good place to start the trajectories (away from the minimum, where the methods differ).</summary>
    public abstract Vec2 Start { get; }
    /// <summary>The region drawn: (xmin, xmax, ymin, ymax).</summary>
    public abstract (double X0, double X1, double Y0, double Y1) View { get; }
    /// <summary>Number of examples.</summary>
    public int Count => Targets.Length;

    /// <summary>Stores the data set.</summary>
    protected TwoWeightProblem(double[][] inputs, double[] targets)
    {
        if (inputs.Length != targets.Length || inputs.Length < 2) throw new ArgumentException("need as many targets as inputs, at least two examples.");
        Inputs = inputs;
        Targets = targets;
    }

    /// <summary>The model output f(w, x).</summary>
    public abstract double Output(Vec2 w, double[] x);
    /// <summary>∂f/∂w.</summary>
    public abstract Vec2 OutputGradient(Vec2 w, double[] x);
    /// <summary>∂²f/∂w².</summary>
    public abstract Mat2 OutputHessian(Vec2 w, double[] x);
    /// <summary>KFAC's blocks at w over the examples (expectations over the model's own labels, i.e. the exact-expectation "true Fisher" KFAC).</summary>
    public abstract IReadOnlyList<KfacBlock> Kfac(Vec2 w, IReadOnlyList<int> examples);

    /// <summary>All example indices.</summary>
    public IReadOnlyList<int> All => Enumerable.Range(0, Count).ToArray();

    /// <summary>Per-example loss.</summary>
    protected double ExampleLoss(double f, double y) => Noise == OutputNoise.Gaussian ? 0.5 * (f - y) * (f - y) : Softplus(f) - y * f;
    /// <summary>∂loss/∂f.</summary>
    protected double Residual(double f, double y) => Noise == OutputNoise.Gaussian ? f - y : Sigmoid(f) - y;
    /// <summary>The Fisher weight Λ(f) = E_y[(∂loss/∂f)²] under the model: 1 or p (1 - p).</summary>
    protected double FisherWeight(double f) => Noise == OutputNoise.Gaussian ? 1 : Sigmoid(f) * (1 - Sigmoid(f));

    /// <summary>Mean loss over the examples (all by default).</summary>
    public double Loss(Vec2 w, IReadOnlyList<int>? examples = null) => (examples ?? All).Average(i => ExampleLoss(Output(w, Inputs[i]), Targets[i]));

    /// <summary>Mean gradient over the examples.</summary>
    public Vec2 Gradient(Vec2 w, IReadOnlyList<int>? examples = null)
    {
        var ex = examples ?? All;
        var g = new Vec2(0, 0);
        foreach (int i in ex) g += Residual(Output(w, Inputs[i]), Targets[i]) * OutputGradient(w, Inputs[i]);
        return (1.0 / ex.Count) * g;
    }

    /// <summary>Hessian of the mean loss: the Gauss-Newton part (the Fisher) plus the residual times the output's curvature.</summary>
    public Mat2 Hessian(Vec2 w, IReadOnlyList<int>? examples = null)
    {
        var ex = examples ?? All;
        var h = Fisher(w, ex);
        foreach (int i in ex) h += (Residual(Output(w, Inputs[i]), Targets[i]) / ex.Count) * OutputHessian(w, Inputs[i]);
        return h;
    }

    /// <summary>The exact Fisher E_x E_y~model[∇ℓ ∇ℓᵀ] = mean Λ J Jᵀ.</summary>
    public Mat2 Fisher(Vec2 w, IReadOnlyList<int>? examples = null)
    {
        var ex = examples ?? All;
        var f = new Mat2(0, 0, 0, 0);
        foreach (int i in ex)
        {
            var j = OutputGradient(w, Inputs[i]);
            f += FisherWeight(Output(w, Inputs[i])) * Mat2.Outer(j, j);
        }
        return (1.0 / ex.Count) * f;
    }

    /// <summary>KFAC's approximation of the Fisher as a 2x2 matrix: each block G ⊗ A, zero between layers.</summary>
    public Mat2 KfacMatrix(Vec2 w, IReadOnlyList<int>? examples = null)
    {
        var m = new double[2, 2];
        foreach (var b in Kfac(w, examples ?? All))
            for (int r = 0; r < b.Weights.Length; r++)
                for (int c = 0; c < b.Weights.Length; c++) m[b.Weights[r], b.Weights[c]] = b.G * b.A[r, c];
        return new Mat2(m[0, 0], m[0, 1], m[1, 0], m[1, 1]);
    }

    /// <summary>Loss on a grid over <see cref="View"/> (or <paramref name="view"/>): Z[j][i] at (X[i], Y[j]).</summary>
    public (double[] X, double[] Y, double[][] Z) LossGrid(int size = 61, (double X0, double X1, double Y0, double Y1)? view = null)
    {
        var (x0, x1, y0, y1) = view ?? View;
        var xs = Enumerable.Range(0, size).Select(i => x0 + (x1 - x0) * i / (size - 1)).ToArray();
        var ys = Enumerable.Range(0, size).Select(i => y0 + (y1 - y0) * i / (size - 1)).ToArray();
        return (xs, ys, ys.Select(y => xs.Select(x => Loss(new Vec2(x, y))).ToArray()).ToArray());
    }

    /// <summary>Mean of x xᵀ over the examples (an input factor).</summary>
    protected static double[,] SecondMoment(IEnumerable<double[]> rows)
    {
        var list = rows.ToList();
        int d = list[0].Length;
        var a = new double[d, d];
        foreach (var r in list)
            for (int p = 0; p < d; p++)
                for (int q = 0; q < d; q++) a[p, q] += r[p] * r[q] / list.Count;
        return a;
    }

    static double Sigmoid(double f) => 1 / (1 + Math.Exp(-f));
    static double Softplus(double f) => f > 0 ? f + Math.Log(1 + Math.Exp(-f)) : Math.Log(1 + Math.Exp(f));
}
