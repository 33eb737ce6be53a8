using System.Text.Json;
using Fop.Research.Curvature;
using Fop.Research.Optim;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Fop.Research.Tests;

/// <summary>fop-method.md §3 identity 11: one KFAC and one FOP step against an independent float64 implementation.</summary>
public class GoldenMlpTests
{
    static readonly string GoldenPath = FindGolden();

    static string FindGolden()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
        {
            foreach (var candidate in new[] { Path.Combine(dir.FullName, "shared", "testdata", "fop-golden-mlp.json"), Path.Combine(dir.FullName, "tests", "testdata", "fop-golden-mlp.json") })
                if (File.Exists(candidate)) return candidate;
        }
        throw new FileNotFoundException("fop-golden-mlp.json not found (expected in tests/testdata/ of the repository).");
    }

    sealed record Golden(JsonElement Root)
    {
        public double Lr => Root.GetProperty("lr").GetDouble();
        public double Lambda => Root.GetProperty("lambda").GetDouble();
        public Tensor X => Matrix(Root.GetProperty("x"));
        public Tensor Y => torch.tensor(Root.GetProperty("y").EnumerateArray().Select(e => e.GetInt64()).ToArray());
        public Tensor Weights(string key, int layer) => Matrix(Root.GetProperty(key)[layer]);
        static Tensor Matrix(JsonElement e)
        {
            var rows = e.EnumerateArray().Select(r => r.EnumerateArray().Select(v => v.GetDouble()).ToArray()).ToArray();
            return torch.tensor(rows.SelectMany(r => r).ToArray(), dtype: ScalarType.Float64).view(rows.Length, rows[0].Length);
        }
    }

    static Golden Load() => new(JsonDocument.Parse(File.ReadAllText(GoldenPath)).RootElement);

    static (Sequential Model, Linear[] Layers) Model(Golden g)
    {
        var l1 = Linear(5, 4);
        var l2 = Linear(4, 3);
        var model = Sequential(("fc1", l1), ("relu", ReLU()), ("fc2", l2));
        model.to(ScalarType.Float64);
        using var noGrad = torch.no_grad();
        foreach (var (layer, i) in new[] { (l1, 0), (l2, 1) })
        {
            var w = g.Weights("weights", i);
            layer.weight!.copy_(w.narrow(1, 0, w.shape[1] - 1));
            layer.bias!.copy_(w.narrow(1, w.shape[1] - 1, 1).reshape(-1));
        }
        return (model, [l1, l2]);
    }

    static void AssertWeights(Golden g, string key, Linear[] layers, double tolerance)
    {
        for (int i = 0; i < layers.Length; i++)
        {
            var expected = g.Weights(key, i);
            var actual = torch.cat([layers[i].weight!.detach(), layers[i].bias!.detach().unsqueeze(1)], 1);
            double err = TestModels.MaxAbs(actual, expected);
            Assert.True(err < tolerance, $"{key} layer {i}: max error {err}");
        }
    }

    static KfacOptions Options(Golden g) => TestModels.Plain(FisherType.Empirical, g.Lambda);

    [Fact]
    public void KfacStepMatchesTheReference()
    {
        var g = Load();
        var (model, layers) = Model(g);
        using var kfac = new Kfac(model, Options(g), TailOptions.Plain);
        var r = kfac.Step(g.X, g.Y, g.Lr);
        Assert.False(r.Skipped);
        AssertWeights(g, "expected_kfac_weights", layers, 1e-10);
    }

    [Fact]
    public void FopStepMatchesTheReference()
    {
        var g = Load();
        var (model, layers) = Model(g);
        using var fop = new FopOptimizer(model, FopOptions.Paper with { DiagnosticsInterval = 1 }, Options(g), TailOptions.Plain);
        var r = fop.Step(g.X, g.Y, g.Lr);
        AssertWeights(g, "expected_fop_weights", layers, 1e-10);
        var expected = g.Root.GetProperty("expected_fop_per_layer");
        var byName = r.Fop!.Layers.ToDictionary(l => l.Layer);
        foreach (var (name, i) in new[] { ("fc1", 0), ("fc2", 1) })
        {
            Assert.Equal(expected[i].GetProperty("s").GetDouble(), byName[name].S, 1e-8);
            Assert.Equal(expected[i].GetProperty("beta").GetDouble(), byName[name].Beta, 1e-8);
            Assert.Equal(expected[i].GetProperty("eta").GetDouble(), byName[name].Eta, 1e-8);
        }
    }
}
