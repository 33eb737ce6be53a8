using Fop.Research.Curvature;
using Fop.Research.Optim;
using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Fop.Research.Tests;

/// <summary>Identity 10 (state-dict round trip), construction-time validation and NaN safety.</summary>
public class OptimizerStateTests
{
    static ModelOptimizer Create(string kind, Module<Tensor, Tensor> model, KfacOptions options) => kind switch
    {
        "kfac" => new Kfac(model, options, TestModels.Momentum, seed: 3),
        "fop" => new FopOptimizer(model, FopOptions.Paper, options, TestModels.Momentum, seed: 3),
        "sgd" => FirstOrderOptimizer.Sgd(model, new SgdOptions(0.9, true, 1e-3)),
        // Roots every 4th step (1, 4, 8) and bases after steps 1, 5, 9: a resume after step 5 carries both.
        "shampoo" => new Shampoo(model, ShampooOptions.Default with { PreconditionFrequency = 4, WeightDecay = 1e-3 }),
        "soap" => new Soap(model, SoapOptions.Default with { PreconditionFrequency = 4 }),
        "muon" => new Muon(model, MuonOptions.Default with { WeightDecay = 1e-3 }),
        _ => FirstOrderOptimizer.AdamW(model, AdamWOptions.Default),
    };

    static List<(Tensor X, Tensor Y)> Batches(int count)
    {
        torch.manual_seed(21);
        return Enumerable.Range(0, count).Select(_ => (torch.randn(10, 6, dtype: ScalarType.Float64), torch.randint(0, 4, 10))).ToList();
    }

    [Theory]
    [InlineData("kfac", FisherType.MonteCarlo, DampingForm.PiSplit, 0.95)]
    [InlineData("kfac", FisherType.Empirical, DampingForm.Eigen, null)]
    [InlineData("fop", FisherType.MonteCarlo, DampingForm.PiSplit, 0.95)]
    [InlineData("fop", FisherType.Empirical, DampingForm.Eigen, null)]
    [InlineData("sgd", FisherType.Empirical, DampingForm.PiSplit, null)]
    [InlineData("adamw", FisherType.Empirical, DampingForm.PiSplit, null)]
    [InlineData("shampoo", FisherType.Empirical, DampingForm.PiSplit, null)]
    [InlineData("soap", FisherType.Empirical, DampingForm.PiSplit, null)]
    [InlineData("muon", FisherType.Empirical, DampingForm.PiSplit, null)]
    public void StateDictRoundTripMidTrainingLeavesTheTrajectoryUnchanged(string kind, FisherType fisher, DampingForm form, double? ema)
    {
        var options = TestModels.Plain(fisher, 0.02, form) with { EmaDecay = ema, CurvatureInterval = 2, InverseInterval = 4 };
        var batches = Batches(9);
        using var reference = TestModels.Mlp(5, 6, 5, 4);
        using (var opt = Create(kind, reference, options))
            foreach (var (x, y) in batches) opt.Step(x, y, 0.05);

        using var resumed = TestModels.Mlp(5, 6, 5, 4);
        Dictionary<string, Tensor> saved;
        using (var first = Create(kind, resumed, options))
        {
            foreach (var (x, y) in batches.Take(5)) first.Step(x, y, 0.05);
            saved = first.StateDict().ToDictionary(kv => kv.Key, kv => kv.Value.clone());
        }
        using (var second = Create(kind, resumed, options))
        {
            second.LoadStateDict(saved);
            Assert.Equal(5, second.StepCount);
            foreach (var (x, y) in batches.Skip(5)) second.Step(x, y, 0.05);
        }
        TestModels.AssertSameWeights(reference, resumed, 0, $"{kind} ");
    }

    public static TheoryData<string, Func<KfacOptions>> BadKfac => new()
    {
        { "damping", () => KfacOptions.Paper with { Damping = 0 } },
        { "damping", () => KfacOptions.Paper with { Damping = double.NaN } },
        { "ema_decay", () => KfacOptions.Paper with { EmaDecay = 1.0 } },
        { "curvature_interval", () => KfacOptions.Paper with { CurvatureInterval = 0 } },
        { "inverse_interval", () => KfacOptions.Paper with { CurvatureInterval = 4, InverseInterval = 6 } },
        { "kl_clip", () => KfacOptions.Paper with { KlClip = -1 } },
        { "exclude_types", () => KfacOptions.Paper with { Layers = new LayerSelection(["lstm"]) } },
    };

    [Theory]
    [MemberData(nameof(BadKfac))]
    public void InvalidKfacHyperparametersAreRejectedAtConstruction(string name, Func<KfacOptions> make)
    {
        using var model = TestModels.Mlp(1, 6, 4);
        var e = Assert.ThrowsAny<ArgumentException>(() => new Kfac(model, make()));
        Assert.Contains(name, e.Message);
    }

    [Fact]
    public void AnInvalidTailIsRejectedAtConstructionByKfacAndFop()
    {
        using var model = TestModels.Mlp(1, 6, 4);
        var momentum = TailOptions.Paper with { Sgd = new SgdOptions(1.5) };
        var clip = TailOptions.Paper with { GradClip = 0 };
        Assert.Contains("momentum", Assert.ThrowsAny<ArgumentException>(() => new Kfac(model, KfacOptions.Paper, momentum)).Message);
        Assert.Contains("grad_clip", Assert.ThrowsAny<ArgumentException>(() => new FopOptimizer(model, FopOptions.Paper, tail: clip)).Message);
    }

    [Fact]
    public void InvalidFopSwitchesAreRejectedAtConstruction()
    {
        using var model = TestModels.Mlp(1, 6, 4);
        Assert.Contains("eta_min", Assert.ThrowsAny<ArgumentException>(() => new FopOptimizer(model, FopOptions.Paper with { EtaMin = -1 })).Message);
        Assert.Contains("eps", Assert.ThrowsAny<ArgumentException>(() => new FopOptimizer(model, FopOptions.Paper with { Eps = 2 })).Message);
        Assert.Contains("fixed_beta", Assert.ThrowsAny<ArgumentException>(() => new FopOptimizer(model, FopOptions.Paper with { FixedBeta = double.PositiveInfinity })).Message);
    }

    [Theory]
    [InlineData("kfac")]
    [InlineData("fop")]
    [InlineData("sgd")]
    [InlineData("adamw")]
    [InlineData("shampoo")]
    [InlineData("soap")]
    [InlineData("muon")]
    public void ANonFiniteGradientLeavesWeightsAndStateUntouched(string kind)
    {
        var options = TestModels.Plain(FisherType.MonteCarlo, 0.02) with { EmaDecay = 0.9 };
        using var model = TestModels.Mlp(2, 6, 5, 4);
        using var opt = Create(kind, model, options);
        var batches = Batches(3);
        opt.Step(batches[0].X, batches[0].Y, 0.05);
        var weights = TestModels.Snapshot(model);
        var state = opt.StateDict().ToDictionary(kv => kv.Key, kv => kv.Value.clone());

        var bad = batches[1].X.clone();
        bad[3, 2] = torch.tensor(double.NaN, dtype: ScalarType.Float64);
        var result = opt.Step(bad, batches[1].Y, 0.05);
        Assert.True(result.Skipped);
        Assert.Contains("non-finite", result.Message);
        foreach (var (n, p) in model.named_parameters()) Assert.True(TestModels.MaxAbs(p.detach(), weights[n]) == 0, $"{n} changed");
        var after = opt.StateDict();
        Assert.Equal(state.Keys.OrderBy(k => k), after.Keys.OrderBy(k => k));
        foreach (var (k, t) in state) Assert.True(TestModels.MaxAbs(after[k].to_type(ScalarType.Float64), t.to_type(ScalarType.Float64)) == 0, $"state {k} changed");

        // The optimizer keeps working afterwards.
        Assert.False(opt.Step(batches[2].X, batches[2].Y, 0.05).Skipped);
    }

    [Fact]
    public void ExcludedLayersAreReportedAndTakeThePlainGradient()
    {
        using var model = TestModels.Mlp(1, 6, 5, 4);
        using var kfac = new Kfac(model, KfacOptions.Paper with { Layers = new LayerSelection(null, ["^fc1$"]) });
        Assert.Equal(["fc0.weight", "fc0.bias"], kfac.PreconditionedParameters);
        Assert.Contains(kfac.Curvature.Skipped, s => s.StartsWith("fc1"));
    }

    [Fact]
    public void ALayerCalledThroughForwardInsteadOfCallIsAnError()
    {
        using var model = new ForwardBypass();
        using var kfac = new Kfac(model, TestModels.Plain(), TailOptions.Plain);
        var e = Assert.Throws<InvalidOperationException>(() => kfac.Step(torch.randn(4, 3, dtype: ScalarType.Float64), torch.randint(0, 2, 4), 0.1));
        Assert.Contains("inner", e.Message);
    }

    sealed class ForwardBypass : Module<Tensor, Tensor>
    {
        readonly TorchSharp.Modules.Linear outer = Linear(3, 3), inner = Linear(3, 2);
        public ForwardBypass() : base(nameof(ForwardBypass)) { RegisterComponents(); this.to(ScalarType.Float64); }
        public override Tensor forward(Tensor x) => inner.forward(outer.call(x));
    }
}
