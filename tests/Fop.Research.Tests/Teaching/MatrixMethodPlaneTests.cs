using Fop.Research.Teaching;

namespace Fop.Research.Tests.Teaching;

/// <summary>
/// Shampoo, SOAP and Muon in the plane, held to what their first step must be from empty statistics on a one-layer
/// problem (a 1 x 2 gradient G): Shampoo's L^-1/4 G R^-1/4 is G's polar factor G/|G| grafted to Adam's first step
/// (sign(G), norm √2); SOAP's first step is Adam's in the identity basis, sign(G); Muon's is G/|G| times the
/// Newton-Schulz iteration's value at a singular value of 1. Then their trajectories go downhill.
/// </summary>
public class MatrixMethodPlaneTests
{
    static readonly TwoWeightProblem Quadratic = Problems.IllConditionedQuadratic();

    static double Cosine(Vec2 a, Vec2 b) => a.Dot(b) / (a.Norm * b.Norm);

    [Fact]
    public void ShampoosFirstStepIsThePolarFactorGraftedToAdamsNorm()
    {
        var g = Quadratic.Gradient(Quadratic.Start);
        var d = PlaneSteps.Direction(Quadratic, TeachingMethod.Shampoo, Quadratic.Start, Quadratic.All, new TrajectoryOptions());
        Assert.Equal(1.0, Cosine(d, g), 9);
        Assert.Equal(Math.Sqrt(2), d.Norm, 6);
    }

    [Fact]
    public void SoapsFirstStepIsAdamsInTheIdentityBasis()
    {
        var g = Quadratic.Gradient(Quadratic.Start);
        var d = PlaneSteps.Direction(Quadratic, TeachingMethod.Soap, Quadratic.Start, Quadratic.All, new TrajectoryOptions());
        Assert.Equal(Math.Sign(g.X), d.X, 6);
        Assert.Equal(Math.Sign(g.Y), d.Y, 6);
    }

    [Fact]
    public void MuonsFirstStepIsTheNormalisedGradientScaledByNewtonSchulz()
    {
        var g = Quadratic.Gradient(Quadratic.Start);
        var d = PlaneSteps.Direction(Quadratic, TeachingMethod.Muon, Quadratic.Start, Quadratic.All, new TrajectoryOptions());
        Assert.Equal(1.0, Cosine(d, g), 9);
        // Five quintic steps x <- a x + b x^3 + c x^5 from x = 1 (a row's only singular value after normalisation).
        var (a, b, c) = Optim.NewtonSchulz.Coefficients;
        // The Nesterov blend of the first buffer (1 - beta) G is (1 - beta)(1 + beta) G; Newton-Schulz divides by its norm + 1e-7.
        double beta = Optim.MuonOptions.Default.Momentum;
        double x = 1 / (1 + 1e-7 / ((1 - beta) * (1 + beta) * g.Norm));
        for (int k = 0; k < 5; k++) x = a * x + b * x * x * x + c * Math.Pow(x, 5);
        Assert.Equal(x, d.Norm, 9);
    }

    [Theory]
    [InlineData(TeachingMethod.Shampoo)]
    [InlineData(TeachingMethod.Soap)]
    [InlineData(TeachingMethod.Muon)]
    public void TrajectoriesGoDownhillOnEveryProblem(TeachingMethod method)
    {
        foreach (var p in new[] { Quadratic, Problems.LogisticRegression(), Problems.TinyTwoLayerNet() })
        {
            var points = PlaneSteps.Trajectory(p, method, new TrajectoryOptions { Lr = 0.05, Steps = 40 });
            Assert.Equal(41, points.Count);
            Assert.True(p.Loss(points[^1]) < p.Loss(points[0]), $"{method} on {p.Name}: {p.Loss(points[0])} -> {p.Loss(points[^1])}");
        }
    }

    [Fact]
    public void StatisticsCarryOverBetweenSteps()
    {
        // Shampoo's second step differs from a fresh first step at the same point: its factors remember the first gradient.
        using var steps = new MatrixMethodSteps(TeachingMethod.Shampoo);
        var w = Quadratic.Start;
        var first = steps.Next(Quadratic, w, Quadratic.All);
        var w2 = w - 0.05 * first;
        var second = steps.Next(Quadratic, w2, Quadratic.All);
        var fresh = PlaneSteps.Direction(Quadratic, TeachingMethod.Shampoo, w2, Quadratic.All, new TrajectoryOptions());
        Assert.True(Math.Abs(Cosine(second, fresh) - 1) > 1e-6, $"cos {Cosine(second, fresh)}");
        Assert.Throws<ArgumentException>(() => new MatrixMethodSteps(TeachingMethod.Kfac));
    }
}
