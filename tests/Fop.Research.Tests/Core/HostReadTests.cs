using Fop.Research.Curvature;
using Fop.Research.Optim;
using TorchSharp;
using static TorchSharp.torch;
using Fop.Research.Randomness;
using Fop.Research.Devices;

namespace Fop.Research.Tests.Core;

/// <summary>
/// On a GPU every read of a tensor value to the host is a synchronisation. A step that does no curvature work and logs
/// no diagnostics reads exactly once (loss, correct count, finite checks and the KL-clip factor together), and so does a
/// step that gathers curvature statistics but rebuilds no inverse (their check joins that read; they commit after it).
/// Inverse steps read while decomposing. Shampoo, SOAP and Muon read once on every step, root and basis steps included.
/// Counted through <see cref="HostReads"/>.
/// </summary>
public class HostReadTests
{
    static (Tensor X, Tensor Y) Batch()
    {
        using var g = new SeededRandom(5);
        return (g.Normal([32, 6], torch.CPU, ScalarType.Float64), g.Integers(0, 4, [32], torch.CPU));
    }

    static ModelOptimizer Make(string kind, TorchSharp.Modules.Sequential model)
    {
        // Curvature every 2nd step, inverses every 4th, KL clip on and gradient clipping on: every device-side scalar is exercised.
        var kfac = TestModels.Plain(FisherType.MonteCarlo, 0.05) with { CurvatureInterval = 2, InverseInterval = 4, KlClip = 1e-3 };
        var tail = TailOptions.Plain with { GradClip = 1.0 };
        return kind switch
        {
            "sgd" => FirstOrderOptimizer.Sgd(model, SgdOptions.Paper, gradClip: 1.0),
            "adamw" => FirstOrderOptimizer.AdamW(model, AdamWOptions.Default, gradClip: 1.0),
            "kfac" => new Kfac(model, kfac, tail),
            // Roots and bases every 2nd step: they are computed on the device and join the step's one read.
            "shampoo" => new Shampoo(model, ShampooOptions.Default with { PreconditionFrequency = 2 }, gradClip: 1.0),
            "soap" => new Soap(model, SoapOptions.Default with { PreconditionFrequency = 2 }, gradClip: 1.0),
            "muon" => new Muon(model, MuonOptions.Default, gradClip: 1.0),
            _ => new FopOptimizer(model, FopOptions.Paper with { DiagnosticsInterval = 0 }, kfac, tail),
        };
    }

    [Theory]
    [InlineData("sgd")]
    [InlineData("adamw")]
    [InlineData("kfac")]
    [InlineData("fop")]
    [InlineData("shampoo")]
    [InlineData("soap")]
    [InlineData("muon")]
    public void AStepWithoutCurvatureWorkReadsToTheHostOnce(string kind)
    {
        var (x, y) = Batch();
        using var optimizer = Make(kind, TestModels.Mlp(1, 6, 8, 4));
        var reads = new List<long>();
        for (int step = 0; step < 6; step++)
        {
            long before = HostReads.Count;
            var result = optimizer.Step(x, y, 0.05);
            Assert.False(result.Skipped, result.Message);
            reads.Add(HostReads.Count - before);
        }
        if (kind is "sgd" or "adamw" or "shampoo" or "soap" or "muon") Assert.All(reads, r => Assert.Equal(1, r));
        else
        {
            Assert.Equal([1L, 1L, 1L], new[] { reads[1], reads[2], reads[3] });   // no curvature (1, 3) or statistics only (2): the statistics' check joins the step's read
            Assert.True(reads[4] > 2, "an inverse step decomposes (and checks) every layer's factors");
        }
    }

    [Fact]
    public void FopDiagnosticsStepsReadSBetaAndEtaTogether()
    {
        var (x, y) = Batch();
        var kfac = TestModels.Plain(FisherType.Empirical, 0.05) with { CurvatureInterval = 2, InverseInterval = 2 };
        using var fop = new FopOptimizer(TestModels.Mlp(1, 6, 8, 4), FopOptions.Paper with { DiagnosticsInterval = 3 }, kfac, TailOptions.Plain);
        for (int i = 0; i < 3; i++) fop.Step(x, y, 0.05);                  // steps 0-2; step 3 is a diagnostics step
        long before = HostReads.Count;
        var result = fop.Step(x, y, 0.05);                                     // step 3: diagnostics, no curvature
        Assert.Equal(3, HostReads.Count - before);                             // diagnostics of all layers, the halves' cosine, the step's read
        Assert.NotNull(result.Fop);
        Assert.All(result.Fop!.Layers, l => Assert.True(double.IsFinite(l.Beta) && l.Eta > 0 && double.IsFinite(l.KlBase)));
    }
}
