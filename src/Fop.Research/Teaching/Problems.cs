namespace Fop.Research.Teaching;

/// <summary>The two-weight problems of the teaching notebook, with seeded data.</summary>
public static class Problems
{
    /// <summary>Linear regression y = w·x + noise with correlated, differently scaled inputs: an ill-conditioned quadratic whose Hessian, Fisher and KFAC matrix coincide.</summary>
    public static TwoWeightProblem IllConditionedQuadratic(int count = 200, double condition = 50, long seed = 0) => new LinearRegression2D(count, condition, seed);

    /// <summary>Logistic regression with two weights (no bias) on two overlapping Gaussian classes: Hessian = Fisher, KFAC approximates it by a product of averages.</summary>
    public static TwoWeightProblem LogisticRegression(int count = 200, long seed = 0) => new LogisticRegression2D(count, seed);

    /// <summary>A two-layer net with one weight per layer, f = w2 tanh(w1 x): KFAC is block-diagonal (it drops the cross-layer curvature) and the Hessian differs from the Fisher.</summary>
    public static TwoWeightProblem TinyTwoLayerNet(int count = 200, long seed = 0) => new TinyNet(count, seed);

    internal static double Gaussian(Random r) => Math.Sqrt(-2 * Math.Log(1 - r.NextDouble())) * Math.Cos(2 * Math.PI * r.NextDouble());

    /// <summary>A data set of <paramref name="count"/> examples drawn one by one from a seeded generator.</summary>
    internal static double[][] Draw(int count, int seed, Func<Random, int, (double[] X, double Y)> example, out double[] targets)
    {
        var r = new Random(seed);
        var x = new double[count][];
        targets = new double[count];
        for (int i = 0; i < count; i++) (x[i], targets[i]) = example(r, i);
        return x;
    }
}

/// <summary>A model linear in its two weights, f = w · x: one layer with one output, whose output has no curvature.</summary>
internal abstract class LinearInWeights(double[][] inputs, double[] targets) : TwoWeightProblem(inputs, targets)
{
    public override double Output(Vec2 w, double[] x) => w.X * x[0] + w.Y * x[1];
    public override Vec2 OutputGradient(Vec2 w, double[] x) => new(x[0], x[1]);
    public override Mat2 OutputHessian(Vec2 w, double[] x) => new(0, 0, 0, 0);
    // One layer: A = E[x xᵀ], G = E[Λ] (the Fisher weight averaged over the examples).
    public override IReadOnlyList<KfacBlock> Kfac(Vec2 w, IReadOnlyList<int> examples) =>
        [new KfacBlock("layer", [0, 1], SecondMoment(examples.Select(i => Inputs[i])), examples.Average(i => FisherWeight(Output(w, Inputs[i]))))];
}

/// <summary>See <see cref="Problems.IllConditionedQuadratic"/>.</summary>
internal sealed class LinearRegression2D : LinearInWeights
{
    public LinearRegression2D(int count, double condition, long seed) : base(Data(count, condition, seed, out var y), y) { }

    static double[][] Data(int count, double condition, long seed, out double[] y)
    {
        // Inputs along a rotated basis with scales 1 and 1/sqrt(condition): the Hessian E[x xᵀ] has that condition number; truth w = (1, -1).
        double c = Math.Cos(Math.PI / 6), s = Math.Sin(Math.PI / 6);
        return Problems.Draw(count, (int)seed, (r, _) =>
        {
            double u = Problems.Gaussian(r), v = Problems.Gaussian(r) / Math.Sqrt(condition);
            double[] x = [c * u - s * v, s * u + c * v];
            return (x, x[0] - x[1] + 0.3 * Problems.Gaussian(r));
        }, out y);
    }

    public override string Name => "ill-conditioned quadratic (linear regression)";
    public override OutputNoise Noise => OutputNoise.Gaussian;
    public override Vec2 Start => new(-1.5, 1.5);
    public override (double X0, double X1, double Y0, double Y1) View => (-2.5, 3, -3, 2.5);
}

/// <summary>See <see cref="Problems.LogisticRegression"/>.</summary>
internal sealed class LogisticRegression2D : LinearInWeights
{
    public LogisticRegression2D(int count, long seed) : base(Data(count, seed, out var y), y) { }

    // Class means (±1, ±0.3), elongated noise: the classes overlap, so the minimum is finite.
    static double[][] Data(int count, long seed, out double[] y) => Problems.Draw(count, (int)seed + 1, (r, i) =>
    {
        double sign = i % 2 == 1 ? 1 : -1;
        return ([sign * 1.0 + 1.2 * Problems.Gaussian(r), sign * 0.3 + 0.4 * Problems.Gaussian(r)], i % 2);
    }, out y);

    public override string Name => "logistic regression";
    public override OutputNoise Noise => OutputNoise.Bernoulli;
    public override Vec2 Start => new(-1, 0.5);
    public override (double X0, double X1, double Y0, double Y1) View => (-2, 3.5, -1, 6.5);
}

/// <summary>See <see cref="Problems.TinyTwoLayerNet"/>.</summary>
internal sealed class TinyNet : TwoWeightProblem
{
    public TinyNet(int count, long seed) : base(Data(count, seed, out var y), y) { }

    static double[][] Data(int count, long seed, out double[] y) => Problems.Draw(count, (int)seed + 2, (r, _) =>
    {
        double v = 2 * Problems.Gaussian(r);
        return ([v], 1.5 * Math.Tanh(0.8 * v) + 0.2 * Problems.Gaussian(r));
    }, out y);

    public override string Name => "tiny two-layer net f = w2 tanh(w1 x)";
    public override OutputNoise Noise => OutputNoise.Gaussian;
    public override Vec2 Start => new(1.8, -0.4);
    public override (double X0, double X1, double Y0, double Y1) View => (-2.5, 2.5, -2.5, 2.5);
    public override double Output(Vec2 w, double[] x) => w.Y * Math.Tanh(w.X * x[0]);
    public override Vec2 OutputGradient(Vec2 w, double[] x)
    {
        double t = Math.Tanh(w.X * x[0]);
        return new(w.Y * x[0] * (1 - t * t), t);
    }
    public override Mat2 OutputHessian(Vec2 w, double[] x)
    {
        double v = x[0], t = Math.Tanh(w.X * v), sech2 = 1 - t * t;
        double cross = v * sech2;
        return new(-2 * w.Y * v * v * t * sech2, cross, cross, 0);
    }
    public override IReadOnlyList<KfacBlock> Kfac(Vec2 w, IReadOnlyList<int> examples)
    {
        // Layer 1: input x, output-gradient signal w2 sech²(w1 x) per unit residual; layer 2: input tanh(w1 x), signal 1.
        var a1 = new double[1, 1] { { examples.Average(i => Inputs[i][0] * Inputs[i][0]) } };
        double g1 = examples.Average(i => { double t = Math.Tanh(w.X * Inputs[i][0]); double d = w.Y * (1 - t * t); return FisherWeight(Output(w, Inputs[i])) * d * d; });
        var a2 = new double[1, 1] { { examples.Average(i => { double t = Math.Tanh(w.X * Inputs[i][0]); return t * t; }) } };
        double g2 = examples.Average(i => FisherWeight(Output(w, Inputs[i])));
        return [new KfacBlock("layer 1 (w1)", [0], a1, g1), new KfacBlock("layer 2 (w2)", [1], a2, g2)];
    }
}
