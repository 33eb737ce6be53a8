using Fop.Research.Curvature;
using Fop.Research.Optim;
using TorchSharp;
using static TorchSharp.torch;

namespace Fop.Research.Tests.Core;

/// <summary>EMA factors against the recurrence computed independently; factors only on curvature steps and decompositions only on inverse steps.</summary>
public sealed class CurvatureScheduleTests
{
    [Theory]
    [InlineData(FisherType.Empirical)]
    [InlineData(FisherType.Exact)]
    public void EmaFactorsFollowTheRecurrence(FisherType fisher)
    {
        const double rho = 0.8;
        var model = FactorConventionTests.ConvNet(41);
        var shadow = FactorConventionTests.ConvNet(41);
        var options = TestModels.Plain(fisher, 0.05) with { EmaDecay = rho };
        using var kfac = new Kfac(model, options, TailOptions.Plain);
        torch.manual_seed(42);
        Tensor[]? a = null, g = null;
        for (int step = 0; step < 4; step++)
        {
            var x = torch.randn(5, 2, 7, 6, dtype: ScalarType.Float64);
            var y = torch.randint(0, 4, [5]);
            // Fresh factors of this batch at the weights the step starts from.
            shadow.load_state_dict(model.state_dict());
            using var fresh = TestModels.Factors(shadow, x, y, TestModels.Plain(fisher), Curvature.Likelihood.Categorical);
            var freshA = fresh.Factors.Select(f => f.A!.clone()).ToArray();
            var freshG = fresh.Factors.Select(f => f.G!.clone()).ToArray();
            a = a is null ? freshA : a.Zip(freshA, (old, now) => old * rho + now * (1 - rho)).ToArray();
            g = g is null ? freshG : g.Zip(freshG, (old, now) => old * rho + now * (1 - rho)).ToArray();
            kfac.Step(x, y, 0.05);
            for (int l = 0; l < a.Length; l++)
            {
                Assert.True(TestModels.MaxAbs(kfac.Curvature.Factors[l].A!, a[l]) < 1e-12, $"step {step}, {kfac.Curvature.Layers[l].Name}: A");
                Assert.True(TestModels.MaxAbs(kfac.Curvature.Factors[l].G!, g[l]) < 1e-12, $"step {step}, {kfac.Curvature.Layers[l].Name}: G");
            }
        }
    }

    [Fact]
    public void FactorsChangeOnlyOnCurvatureStepsAndDecompositionsHappenOnlyOnInverseSteps()
    {
        var model = TestModels.Mlp(51, 6, 5, 4);
        using var kfac = new Kfac(model, TestModels.Plain(FisherType.MonteCarlo) with { CurvatureInterval = 2, InverseInterval = 6, EmaDecay = 0.9 }, TailOptions.Plain);
        torch.manual_seed(52);
        int layers = kfac.Curvature.Layers.Count;
        for (int step = 0; step < 13; step++)
        {
            var before = kfac.Curvature.Factors.Select(f => f.A?.clone()).ToArray();
            var preconditioner = kfac.Curvature.Preconditioner(0);
            kfac.Step(torch.randn(8, 6, dtype: ScalarType.Float64), torch.randint(0, 4, [8]), 0.05);
            Assert.Equal(step / 2 + 1, kfac.Curvature.Factors[0].Updates);                  // steps 0, 2, 4, ...
            Assert.Equal((step / 6 + 1) * layers, kfac.Curvature.DecompositionCount);       // steps 0, 6, 12
            bool curvatureStep = step % 2 == 0, inverseStep = step % 6 == 0;
            if (!curvatureStep) Assert.True(TestModels.MaxAbs(before[0]!, kfac.Curvature.Factors[0].A!) == 0, $"step {step}: A changed off a curvature step");
            if (!inverseStep) Assert.Same(preconditioner, kfac.Curvature.Preconditioner(0));
            else Assert.NotSame(preconditioner, kfac.Curvature.Preconditioner(0));
        }
    }

    [Fact]
    public void ADampingScheduleIsAppliedAtEachInverseStep()
    {
        var config = Training.ConfigFile.Load(null, ["optimizer=kfac", "kfac.damping={\"start\":0.1,\"end\":0.001,\"steps\":8,\"shape\":\"exponential\"}", "kfac.curvature_interval=2", "kfac.inverse_interval=4"]);
        var schedule = config.Kfac.Damping;
        var model = TestModels.Mlp(61, 6, 5, 4);
        using var kfac = new Kfac(model, TestModels.Plain() with { Damping = schedule, CurvatureInterval = 2, InverseInterval = 4 }, TailOptions.Plain);
        torch.manual_seed(62);
        for (int step = 0; step < 9; step++)
        {
            kfac.Step(torch.randn(8, 6, dtype: ScalarType.Float64), torch.randint(0, 4, [8]), 0.05);
            double expected = 0.1 * Math.Pow(0.001 / 0.1, Math.Min(1.0, step / 4 * 4 / 8.0));
            Assert.Equal(expected, kfac.Curvature.Preconditioner(0)!.Damping, 12);
        }
    }
}
