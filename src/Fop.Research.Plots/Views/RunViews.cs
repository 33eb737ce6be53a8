using Fop.Research.Io;
using Fop.Research.Diagnostics;
using Fop.Research.Plots.Figures;

namespace Fop.Research.Plots.Views;

/// <summary>The figures of one run folder: training curves, FOP's internals, gradient noise.</summary>
public static class RunViews
{
    /// <summary>Accuracy and loss against training seconds and epochs for one or more runs (one line per run).</summary>
    public static Figure Training(IReadOnlyList<(string Label, string RunDir)> runs, double? target = null, string name = "training")
    {
        var data = runs.Select(r => (r.Label, Metrics: CsvColumns.ReadLog(Path.Combine(r.RunDir, "metrics.csv")))).ToList();
        Series S(string label, CsvColumns m, string x, string y, double scale = 1) =>
            new(label, m.Doubles(x), m.Doubles(y).Select(v => v * scale).ToArray(), Markers: true);
        // Whole epochs on the epoch axes (ticks at every epoch up to 12, else automatic).
        int lastEpoch = data.Select(d => d.Metrics.Doubles("epoch").Where(double.IsFinite).DefaultIfEmpty(0).Max()).DefaultIfEmpty(0).Max() is double m ? (int)m : 0;
        double[]? epochTicks = lastEpoch is > 0 and <= 12 ? Enumerable.Range(1, lastEpoch).Select(e => (double)e).ToArray() : null;
        var panels = new List<Panel>
        {
            new LinePanel("test accuracy against time", "training seconds", "test accuracy (%)", data.Select(d => S(d.Label, d.Metrics, "train_seconds", "test_accuracy", 100)).ToList()) { Target = target * 100 },
            new LinePanel("test accuracy by epoch", "epoch", "test accuracy (%)", data.Select(d => S(d.Label, d.Metrics, "epoch", "test_accuracy", 100)).ToList()) { Target = target * 100, XTicks = epochTicks },
            new LinePanel("training loss by epoch", "epoch", "mean training loss", data.Select(d => S(d.Label, d.Metrics, "epoch", "train_loss")).ToList()) { LogY = true, XTicks = epochTicks },
            new LinePanel("test loss by epoch", "epoch", "test loss", data.Select(d => S(d.Label, d.Metrics, "epoch", "test_loss")).ToList()) { LogY = true, XTicks = epochTicks },
        };
        return new Figure(name, "Training curves", panels, "Evaluation after every epoch; training seconds exclude evaluation.");
    }

    /// <summary>FOP's internals over training from steps.csv and layers.csv: s, beta, eta, |g_perp|/|g_avg| in the Fisher norm, cos(g1, g2), the KL terms, and beta per layer as a heat map.</summary>
    public static Figure? FopInternals(string runDir, string name = "fop-internals")
    {
        var stepsPath = Path.Combine(runDir, "steps.csv");
        var layersPath = Path.Combine(runDir, "layers.csv");
        if (!File.Exists(layersPath) || File.ReadLines(layersPath).Skip(1).FirstOrDefault() is null) return null;
        var steps = CsvColumns.ReadLog(stepsPath);
        var step = steps.Doubles("step");
        var keep = Enumerable.Range(0, step.Length).Where(i => double.IsFinite(steps.Doubles("beta")[i])).ToArray();
        double[] Col(string c) { var v = steps.Doubles(c); return keep.Select(i => v[i]).ToArray(); }
        var x = keep.Select(i => step[i]).ToArray();
        var panels = new List<Panel>
        {
            new LinePanel("projection and scale (mean over layers)", "step", "value", [new("beta", x, Col("beta")), new("eta", x, Col("eta")), new("s", x, Col("s"))]),
            new LinePanel("how different the halves are", "step", "ratio / cosine", [new("|g_perp|_F / |g_avg|_F", x, Col("perp_ratio")), new("cos(g1, g2)", x, Col("cos_g1_g2"))]),
            new LinePanel("KL norm of the update (sum over layers)", "step", "KL term", [new("base (KFAC)", x, Col("kl_base")), new("cross (2 beta ...)", x, Col("kl_cross")), new("orthogonal (beta^2 ...)", x, Col("kl_orthogonal"))]),
        };
        var layers = CsvColumns.ReadLog(layersPath);
        var (lstep, lname, lbeta) = (layers.Doubles("step"), layers.Strings("layer"), layers.Doubles("beta"));
        var xs = lstep.Where(double.IsFinite).Distinct().Order().ToArray();
        var names = lname.Distinct().ToArray();
        var index = xs.Select((v, i) => (v, i)).ToDictionary(p => p.v, p => p.i);
        var z = names.Select(_ => Enumerable.Repeat(double.NaN, xs.Length).ToArray()).ToArray();
        for (int i = 0; i < lstep.Length; i++) if (double.IsFinite(lstep[i])) z[Array.IndexOf(names, lname[i])][index[lstep[i]]] = lbeta[i];
        panels.Add(new HeatmapPanel("beta per layer", "step", "layer", xs, names, z, "beta"));
        return new Figure(name, $"FOP internals: {Path.GetFileName(Path.TrimEndingDirectorySeparator(runDir))}", panels,
            "beta < 0 means FOP steps against part of the halves' disagreement; eta < 1 shrinks the layer's step; the KL terms split the update's Fisher norm into the KFAC part and FOP's additions.");
    }

    /// <summary>
    /// Gradient noise over training from noise.csv: the simple noise scale (numerator and denominator smoothed separately)
    /// against the batch sizes given, cos(g1, g2), the norm / inner-product / orthogonality tests, the Euclidean
    /// orthogonal share next to FOP's Fisher |g_perp| / |g_avg| where the run has it, and the step's size and distance from initialisation.
    /// </summary>
    public static Figure? Noise(IReadOnlyList<(string Label, string RunDir)> runs, IReadOnlyList<int>? batchSizes = null, string name = "gradient-noise")
    {
        var data = runs.Where(r => File.Exists(Path.Combine(r.RunDir, "noise.csv"))).Select(r =>
        {
            var df = CsvColumns.ReadLog(Path.Combine(r.RunDir, "noise.csv"));
            var layer = df.Strings("layer");
            var rows = Enumerable.Range(0, layer.Length).Where(i => layer[i] == "all").ToArray();
            double[] Col(string c) { var v = df.Doubles(c); return rows.Select(i => v[i]).ToArray(); }
            return (r.Label, r.RunDir, Step: Col("step"), Col: (Func<string, double[]>)Col);
        }).ToList();
        if (data.Count == 0) return null;
        var noiseScale = data.Select(d =>
        {
            var smoother = new NoiseScaleSmoother(0.9);
            var trace = d.Col("trace_sigma"); var norm = d.Col("grad_norm_sq");
            var smoothed = trace.Select((t, i) => smoother.Add(new NoiseEstimate(norm[i], t, 0, 0, 0, 0, 0))).ToArray();
            return new Series(d.Label, d.Step, smoothed);
        }).ToList();
        var panels = new List<Panel>
        {
            new LinePanel("simple noise scale B_simple = tr(Sigma) / |G|^2", "step", "examples", noiseScale)
            {
                LogY = true, References = (batchSizes ?? []).Select(b => ($"batch {b}", (double)b)).ToList(),
            },
            new LinePanel("cos(g1, g2)", "step", "cosine", data.Select(d => new Series(d.Label, d.Step, d.Col("cos_halves"))).ToList()),
            new LinePanel("batch-size tests (Cockpit)", "step", "statistic", data.SelectMany(d => new[]
            {
                new Series($"{d.Label}: norm", d.Step, d.Col("norm_test")),
                new Series($"{d.Label}: inner product", d.Step, d.Col("inner_product_test"), Dashed: true),
                new Series($"{d.Label}: orthogonality", d.Step, d.Col("orthogonality_test"), Dashed: true),
            }).ToList()) { LogY = true },
            new LinePanel("step size and distance travelled", "step", "Euclidean norm", data.SelectMany(d => new[]
            {
                new Series($"{d.Label}: |update|", d.Step, d.Col("update_norm")),
                new Series($"{d.Label}: |theta - theta_0|", d.Step, d.Col("distance_from_init"), Dashed: true),
            }).ToList()) { LogY = true },
        };
        // Runs logged before alpha existed have no such column: no empty panel for them.
        if (data.Any(d => d.Col("alpha").Any(double.IsFinite)))
            panels.Insert(3, new LinePanel("alpha: where the step lands on its parabola", "step", "alpha (-1 start, 0 minimum, 1 mirror)",
                data.Select(d => new Series(d.Label, d.Step, d.Col("alpha"))).ToList()) { References = [("minimum", 0)] });
        var fisher = data.Where(d => File.Exists(Path.Combine(d.RunDir, "steps.csv"))).Select(d =>
        {
            var steps = CsvColumns.ReadLog(Path.Combine(d.RunDir, "steps.csv"));
            var ratio = steps.Doubles("perp_ratio");
            var step = steps.Doubles("step");
            var idx = Enumerable.Range(0, ratio.Length).Where(i => double.IsFinite(ratio[i])).ToArray();
            return (d, X: idx.Select(i => step[i]).ToArray(), Y: idx.Select(i => ratio[i]).ToArray());
        }).Where(f => f.X.Length > 0).ToList();
        if (fisher.Count > 0)
            panels.Add(new LinePanel("disagreement orthogonal to g_avg", "step", "ratio to |g_avg|",
                fisher.SelectMany(f => new[]
                {
                    // sqrt(orthogonality test) * 2 = |(g1 - g2)_perp| / |g_avg|, the Euclidean twin of FOP's |g_perp|_F / |g_avg|_F.
                    new Series($"{f.d.Label}: Euclidean |(g1-g2)_perp| / |g_avg|", f.d.Step, f.d.Col("orthogonality_test").Select(v => 2 * Math.Sqrt(Math.Max(0, v))).ToArray()),
                    new Series($"{f.d.Label}: Fisher |g_perp|_F / |g_avg|_F", f.X, f.Y, Dashed: true),
                }).ToList()) { LogY = true });
        return new Figure(name, "Gradient noise from two halves of each batch", panels,
            "B_simple estimates the critical batch size: batches much larger than it waste examples for SGD (McCandlish et al. 2018). " +
            "Test statistics above 1 say the batch is too small for the test's criterion (Byrd et al. 2012; Bollapragada et al. 2018).");
    }
}

/// <summary>Gradient noise layer by layer.</summary>
public static class NoiseViews
{
    /// <summary>
    /// Per-layer gradient noise of one run from noise.csv, as layer x step heat maps: log10 of the simple noise scale
    /// (numerator and denominator smoothed separately per layer, as for the overall line) and cos(g1, g2). Null when the
    /// run logged no per-layer noise.
    /// </summary>
    public static Figure? ByLayer(string runDir, string? name = null, double smoothing = 0.9)
    {
        var path = Path.Combine(runDir, "noise.csv");
        if (!File.Exists(path)) return null;
        var df = CsvColumns.ReadLog(path);
        var (layer, step, trace, norm, cos) = (df.Strings("layer"), df.Doubles("step"), df.Doubles("trace_sigma"), df.Doubles("grad_norm_sq"), df.Doubles("cos_halves"));
        var names = layer.Where(l => l != "all").Distinct().ToArray();
        if (names.Length == 0) return null;
        var xs = step.Where(double.IsFinite).Distinct().Order().ToArray();
        var column = xs.Select((v, i) => (v, i)).ToDictionary(p => p.v, p => p.i);
        double[][] Grid() => names.Select(_ => Enumerable.Repeat(double.NaN, xs.Length).ToArray()).ToArray();
        var (scale, cosine) = (Grid(), Grid());
        var smoothers = names.ToDictionary(n => n, _ => new NoiseScaleSmoother(smoothing));
        foreach (int i in Enumerable.Range(0, layer.Length).Where(i => layer[i] != "all" && double.IsFinite(step[i])).OrderBy(i => step[i]))
        {
            int row = Array.IndexOf(names, layer[i]), col = column[step[i]];
            double b = smoothers[layer[i]].Add(new NoiseEstimate(norm[i], trace[i], 0, 0, 0, 0, 0));
            scale[row][col] = b > 0 ? Math.Log10(b) : double.NaN;
            cosine[row][col] = cos[i];
        }
        var label = Path.GetFileName(Path.TrimEndingDirectorySeparator(runDir));
        return new Figure(name ?? "gradient-noise-by-layer", $"Gradient noise by layer: {label}",
        [
            new HeatmapPanel("log10 B_simple per layer", "step", "layer", xs, names, scale, "log10 examples"),
            new HeatmapPanel("cos(g1, g2) per layer", "step", "layer", xs, names, cosine, "cosine"),
        ], "Layers whose noise scale is far below the batch size gain little from more examples; the overall line in gradient-noise is the same estimate over all parameters together.", Columns: 1);
    }
}

/// <summary>Figures of a run's curvature state, read from its checkpoint.</summary>
public static class CurvatureViews
{
    /// <summary>
    /// Eigenvalue spectra of the KFAC factors A and G of every layer in a checkpoint (the running estimates the last
    /// preconditioner was built from), sorted, on a log axis against their rank: how ill-conditioned each factor is and
    /// how much a damping of lambda changes it. Null when the checkpoint holds no curvature (SGD, AdamW).
    /// </summary>
    public static Figure? FactorSpectra(string checkpointPath, double? damping = null, string name = "factor-spectra")
    {
        var (_, model, optimizer) = Training.Checkpoint.Load(checkpointPath);
        try
        {
            Series Spectrum(string layer, TorchSharp.torch.Tensor factor)
            {
                using var f = factor.to_type(TorchSharp.torch.ScalarType.Float64);
                using var sym = (f + f.t()) / 2;
                using var eig = TorchSharp.torch.linalg.eigvalsh(sym);
                // Eigenvalues at or below 1e-12 are zero to rounding (a factor of rank below its size): left out of the log axis
                // rather than drawn at an invented floor, and counted in the legend.
                var values = eig.data<double>().ToArray().OrderDescending().ToArray();
                int zero = values.Count(v => !(v > 1e-12));
                var kept = values.Where(v => v > 1e-12).ToArray();
                return new Series(zero == 0 ? layer : $"{layer} ({zero} of {values.Length} eigenvalues <= 1e-12 not drawn)", Enumerable.Range(1, kept.Length).Select(i => (double)i).ToArray(), kept);
            }
            var layers = optimizer.Keys.Where(k => k.StartsWith("curvature/", StringComparison.Ordinal) && k.EndsWith("/A", StringComparison.Ordinal))
                .Select(k => k["curvature/".Length..^2]).Order(StringComparer.Ordinal).ToList();
            if (layers.Count == 0) return null;
            var references = damping is double d ? new List<(string, double)> { ($"damping {d:g3}", d) } : [];
            return new Figure(name, $"Eigenvalues of the Kronecker factors: {Path.GetFileName(Path.GetDirectoryName(Path.GetFullPath(checkpointPath)))}",
            [
                new LinePanel("input factor A", "rank", "eigenvalue", layers.Select(l => Spectrum(l, optimizer[$"curvature/{l}/A"])).ToList()) { LogX = true, LogY = true, References = references },
                new LinePanel("output-gradient factor G", "rank", "eigenvalue", layers.Select(l => Spectrum(l, optimizer[$"curvature/{l}/G"])).ToList()) { LogX = true, LogY = true, References = references },
            ], "Eigenvalues below the damping line are dominated by the damping in the preconditioner (pi-split damping adds pi sqrt(lambda) to A and sqrt(lambda)/pi to G).");
        }
        finally
        {
            foreach (var t in model.Values.Concat(optimizer.Values)) t.Dispose();
        }
    }
}
