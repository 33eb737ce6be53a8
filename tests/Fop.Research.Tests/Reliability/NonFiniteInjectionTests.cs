using Fop.Research.Curvature;
using Fop.Research.Optim;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;
using Fop.Research.Randomness;

namespace Fop.Research.Tests.Reliability;

/// <summary>NaN/Inf injected into the loss, a gradient, a Kronecker factor or the inputs: the step is refused, nothing changes, training goes on.</summary>
public sealed class NonFiniteInjectionTests
{
    /// <summary>Passes its input through; when armed, adds 0 * sqrt(p) with p = 0, whose gradient is 0 * inf = NaN while the forward stays finite.</summary>
    sealed class GradientFault : Module<Tensor, Tensor>
    {
        readonly Parameter p = new(torch.zeros(1, dtype: ScalarType.Float64));
        public bool Armed { get; set; }
        public GradientFault() : base("fault") => RegisterComponents();
        public override Tensor forward(Tensor x) => Armed ? x + (p * 0).sqrt() * 0 : x + p * 0;
    }

    /// <summary>Categorical cross-entropy that adds NaN to the loss when armed (the gradients stay finite).</summary>
    sealed class LossFault : Likelihood
    {
        public bool Armed { get; set; }
        public override Tensor LossSum(Tensor outputs, Tensor targets) =>
            Categorical.LossSum(outputs, targets) + (Armed ? double.NaN : 0.0);
        public override Tensor Sample(Tensor outputs, SeededRandom random) => Categorical.Sample(outputs, random);
        public override IEnumerable<Tensor> FisherSqrtColumns(Tensor outputs) => Categorical.FisherSqrtColumns(outputs);
        public override long Correct(Tensor outputs, Tensor targets) => Categorical.Correct(outputs, targets);
    }

    static ModelOptimizer Create(string name, Module<Tensor, Tensor> model, Likelihood likelihood)
    {
        var kfac = TestModels.Plain();
        return name switch
        {
            "sgd" => FirstOrderOptimizer.Sgd(model, new SgdOptions(0.9, false, 1e-3), likelihood),
            "adamw" => FirstOrderOptimizer.AdamW(model, AdamWOptions.Default, likelihood),
            "kfac" => new Kfac(model, kfac, TestModels.Momentum, likelihood),
            "shampoo" => new Shampoo(model, ShampooOptions.Default with { PreconditionFrequency = 2 }, likelihood),
            "soap" => new Soap(model, SoapOptions.Default with { PreconditionFrequency = 2 }, likelihood),
            "muon" => new Muon(model, MuonOptions.Default, likelihood),
            _ => new FopOptimizer(model, FopOptions.Paper, kfac, TestModels.Momentum, likelihood),
        };
    }

    [Theory]
    [InlineData("sgd", "input")] [InlineData("sgd", "loss")] [InlineData("sgd", "gradient")]
    [InlineData("adamw", "input")] [InlineData("adamw", "loss")] [InlineData("adamw", "gradient")]
    [InlineData("kfac", "input")] [InlineData("kfac", "loss")] [InlineData("kfac", "gradient")] [InlineData("kfac", "factor")]
    [InlineData("fop", "input")] [InlineData("fop", "loss")] [InlineData("fop", "gradient")] [InlineData("fop", "factor")]
    [InlineData("shampoo", "input")] [InlineData("shampoo", "loss")] [InlineData("shampoo", "gradient")] [InlineData("shampoo", "factor")]
    [InlineData("soap", "input")] [InlineData("soap", "loss")] [InlineData("soap", "gradient")] [InlineData("soap", "factor")]
    [InlineData("muon", "input")] [InlineData("muon", "loss")] [InlineData("muon", "gradient")]
    public void AnInjectedNonFiniteValueRefusesTheStepAndChangesNothing(string optimizer, string fault)
    {
        var gradientFault = new GradientFault();
        var net = TestModels.Mlp(3, 6, 5, 3);
        var model = Sequential(("fault", (Module<Tensor, Tensor>)gradientFault), ("net", net));
        var likelihood = new LossFault();
        using var opt = Create(optimizer, model, likelihood);
        torch.manual_seed(4);
        var x = torch.randn(8, 6, dtype: ScalarType.Float64);
        var y = torch.randint(0, 3, [8]);
        // The fault lands at a step drawn per case (seeded by the case's names), so it meets curvature and other steps alike.
        int warmSteps = new Random(optimizer.Sum(c => c) * 31 + fault.Sum(c => c)).Next(1, 6);
        for (int i = 0; i < warmSteps; i++) Assert.False(opt.Step(x, y, 0.05).Skipped);

        var weights = TestModels.Snapshot(model);
        var state = opt.StateDict().ToDictionary(kv => kv.Key, kv => kv.Value.clone());
        var bad = x.clone();
        switch (fault)
        {
            case "input": bad[3, 2] = torch.tensor(double.NaN, dtype: ScalarType.Float64); break;
            case "loss": likelihood.Armed = true; break;
            case "gradient": gradientFault.Armed = true; break;
            case "factor":
                // Input 1e200 on a column whose weights are zero: outputs and gradients stay finite, but A = E[a a^T] overflows to inf.
                using (torch.no_grad()) net.named_parameters().First(p => p.name == "fc0.weight").parameter[.., 4] = 0;
                weights = TestModels.Snapshot(model);
                bad[.., 4] = 1e200;
                break;
        }
        var result = opt.Step(bad, y, 0.05);
        Assert.True(result.Skipped, $"{optimizer}/{fault}: the step was not refused");
        foreach (var (name, before) in weights)
            Assert.True(TestModels.MaxAbs(before, model.named_parameters().First(p => p.name == name).parameter) == 0, $"{optimizer}/{fault}: {name} changed");
        var after = opt.StateDict();
        Assert.Equal(state.Keys.Order(), after.Keys.Order());
        foreach (var (k, v) in state) Assert.True(TestModels.MaxAbs(v, after[k]) == 0 || (v.isnan().any().item<bool>() && v.isnan().eq(after[k].isnan()).all().item<bool>() && v.nan_to_num().eq(after[k].nan_to_num()).all().item<bool>()), $"{optimizer}/{fault}: optimizer state {k} changed");

        likelihood.Armed = false;
        gradientFault.Armed = false;
        Assert.False(opt.Step(x, y, 0.05).Skipped, $"{optimizer}/{fault}: training did not go on");
        Assert.All(model.parameters(), p => Assert.True(p.isfinite().all().item<bool>()));
    }
}
