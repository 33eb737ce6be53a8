using System.Diagnostics;
using System.Text.RegularExpressions;
using Fop.Research.Data;
using Fop.Research.Plots;
using Fop.Research.Plots.Figures;
using Fop.Research.Plots.Views;
using SkiaSharp;

namespace Fop.Research.Tests.Plots;

/// <summary>Figures: offline HTML (plotly.js inside, renders with no network), the notebook formatter, and the committed studies' figures.</summary>
public sealed class FigureTests : IDisposable
{
    readonly string dir = Directory.CreateTempSubdirectory("fop-fig-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    static Figure Sample() => new("sample", "A sample figure",
    [
        new LinePanel("lines", "batch size", "seconds", [new Series("a", [512, 2048, 8192], [10, 5, 3], [8, 4, 2], [12, 6, 4]), new Series("b", [512, 2048], [20, 9])])
            { LogX = true, LogY = true, XTicks = [512, 2048, 8192], Markers = [new PointMarker("b", 8192, 40, Hollow: true)], Target = 7 },
        new FieldPanel("field", "alpha", "beta", [-1, 0, 1], [-1, 0, 1], [[3, 2, 3], [2, 1, 2], [3, 2, 3]], "loss") { Surface = true, Markers = [new PointMarker("theta", 0, 0)] },
        new HeatmapPanel("heat", "step", "layer", [0, 10, 20], ["fc1", "fc2"], [[0.1, 0.2, 0.3], [-0.1, 0.0, 0.4]], "beta"),
    ], "caption");

    [Fact]
    public void SavedHtmlEmbedsPlotlyJsAndReferencesNoExternalScript()
    {
        var (png, html) = Sample().Save(dir);
        var text = File.ReadAllText(html);
        Assert.Contains("plotly.js v2.28.0", text);
        Assert.DoesNotMatch(new Regex("<script[^>]*src=", RegexOptions.IgnoreCase), text);
        Assert.Single(Regex.Matches(text, "plotly.js v2.28.0"));             // the library once, however many charts
        Assert.True(Regex.Matches(text, "Plotly.newPlot").Count >= 4);         // lines, contour, surface, heat map
        using var bitmap = SKBitmap.Decode(png);
        Assert.True(bitmap.Width > 1000 && bitmap.Height > 800);
    }

    [ChromiumFact]
    public void SavedHtmlRendersANonBlankChartInHeadlessChromiumWithNoNetwork()
    {
        var figure = new Figure("one", "one chart", [Sample().Panels[0]]);
        var (_, html) = figure.Save(dir);
        var shot = Path.Combine(dir, "shot.png");
        Chromium.Screenshot(html, shot);
        Chromium.AssertNotBlank(File.ReadAllBytes(shot), html);
    }

    [Fact]
    public void InANotebookAFigureDisplaysAsAPngAndATableAsPlainHtml()
    {
        NotebookCharts.Register();
        var figure = new Figure("x", "title", [new LinePanel("p", "x", "y", [new Series("s", [1.0, 2.0], [3.0, 4.0])])]);
        Assert.Equal([NotebookCharts.PngMimeType], Microsoft.DotNet.Interactive.Formatting.Formatter.GetPreferredMimeTypesFor(typeof(Figure)));
        // A PNG in the output renders in any viewer, alone or after a re-run, with no script and no network.
        var png = Convert.FromBase64String(Microsoft.DotNet.Interactive.Formatting.Formatter.ToDisplayString(figure, NotebookCharts.PngMimeType));
        using var bitmap = SKBitmap.Decode(png);
        Assert.True(bitmap is { Width: > 500, Height: > 300 });
        var df = new Microsoft.Data.Analysis.DataFrame(new Microsoft.Data.Analysis.DoubleDataFrameColumn("acc", [0.91234567]));
        var html = Microsoft.DotNet.Interactive.Formatting.Formatter.ToDisplayString(df, "text/html");
        Assert.Contains("<th style=\"text-align:right;padding:2px 8px;border-bottom:1px solid #888\">acc</th>", html);
        Assert.DoesNotContain("<script", html);
    }

    [Fact]
    public void FactorSpectraAreTheSortedEigenvaluesOfTheCheckpointsFactors()
    {
        var config = Reliability.ResumeAndRecordTests.SmallRun(dir, "kfac", "name=k");
        using (var data = Training.RunData.Load(config)) new Training.Trainer(config, data).Run(Path.Combine(dir, "k"));
        var checkpoint = Path.Combine(dir, "k", "checkpoint.bin");
        var figure = CurvatureViews.FactorSpectra(checkpoint, 0.01)!;
        var a = (LinePanel)figure.Panels[0];
        var (_, _, state) = Training.Checkpoint.Load(checkpoint);
        var exact = TorchSharp.torch.linalg.eigvalsh(state["curvature/layers.0/A"].to_type(TorchSharp.torch.ScalarType.Float64)).data<double>().OrderDescending().ToArray();
        // Eigenvalues that are zero to rounding are not drawn at a floor: they are left out and counted in the legend.
        var positive = exact.Where(v => v > 1e-12).ToArray();
        Assert.Equal(["layers.0", "layers.1"], a.Series.Select(s => s.Label.Split(' ')[0]));
        Assert.Equal(positive.Length == exact.Length, a.Series[0].Label == "layers.0");
        Assert.Equal(positive.Length, a.Series[0].Y.Length);
        for (int i = 0; i < positive.Length; i++) Assert.Equal(positive[i], a.Series[0].Y[i], 8);
        var sgd = Reliability.ResumeAndRecordTests.SmallRun(dir, "sgd", "name=s");
        using (var data = Training.RunData.Load(sgd)) new Training.Trainer(sgd, data).Run(Path.Combine(dir, "s"));
        Assert.Null(CurvatureViews.FactorSpectra(Path.Combine(dir, "s", "checkpoint.bin")));
    }

    [Fact]
    public void RateCurvesTickBothEndsOfTheGridSoNoCurvesLastRateFallsOffTheAxis()
    {
        var root = DatasetFiles.RepositoryRoot()!;
        var study = Studies.StudyFile.Load(Path.Combine(root, "experiments", "studies", "fmnist-curves-b8192.json"));
        var curves = Studies.CurveStudy.Load(study, Path.Combine(root, "experiments", "results", study.Name), Studies.StepCosts.InRun);
        var panel = (LinePanel)RateCurveViews.Curves(curves, "mlp-b8192").Panels[0];
        // AdamW runs up to 0.016, KFAC and FOP from 0.00075: interleaved grids, thinned ticks, both ends kept.
        Assert.Equal(0.00075, panel.XTicks![0]);
        Assert.Equal(0.016, panel.XTicks[^1]);
        Assert.Equal(0.016, panel.Series.Single(s => s.Label == "AdamW").X.Max());
        Assert.Equal("learning rate", panel.XLabel);                    // the renderer adds "(log scale)"
    }

    [Fact]
    public void SeedCurvesDrawAVariantWithFailedSeedsSeedBySeedSoNoMeanOverSurvivorsReadsAsARecovery()
    {
        var results = Path.Combine(DatasetFiles.RepositoryRoot()!, "experiments", "results", "fmnist-fair-scaling");
        var full = (LinePanel)VariantStudyViews.SeedCurves(results).Panels.Single(p => p.Title == "mlp-b55000");
        Assert.Contains(full.Series, s => s.Label == "FOP (mean of 5 seeds)" && s.Lower is not null);
        // KFAC: 4 of 5 seeds diverged or stalled. Each seed is its own line in KFAC's colour; the failed ones dashed, ending in a circle.
        var kfac = full.Series.Where(s => s.PaletteIndex == full.Series.Single(x => x.Label.StartsWith("KFAC: 1 seed completed")).PaletteIndex).ToList();
        Assert.Equal(5, kfac.Count);
        Assert.Equal(4, kfac.Count(s => s.Dashed && s.Hollow.Count == 1 && s.Hollow[0].X == s.X[^1]));
        Assert.Contains(kfac, s => s.Label == "KFAC: 4 seeds diverged or stalled (dashed, o = stopped)");
        Assert.All(kfac, s => Assert.Null(s.Lower));
        Assert.Equal(3, full.Series.Select(s => s.PaletteIndex).Distinct().Count());
    }

    [Fact]
    public void GroupStatsGivesMeanAndSampleStdOverFiniteValues()
    {
        var df = new Microsoft.Data.Analysis.DataFrame(
            new Microsoft.Data.Analysis.StringDataFrameColumn("opt", ["a", "b", "a", "a"]),
            new Microsoft.Data.Analysis.Int32DataFrameColumn("batch", [1, 1, 1, 1]),
            new Microsoft.Data.Analysis.DoubleDataFrameColumn("v", [1.0, 5.0, 3.0, double.NaN]));
        var g = Tables.GroupStats(df, ["opt", "batch"], ["v"]);
        Assert.Equal(["a", "b"], Tables.Strings(g, "opt"));
        Assert.Equal([3.0, 1.0], Tables.Doubles(g, "runs"));
        Assert.Equal([2.0, 5.0], Tables.Doubles(g, "v_mean"));
        Assert.Equal(Math.Sqrt(2), Tables.Doubles(g, "v_std")[0], 12);
        Assert.Equal(0, Tables.Doubles(g, "v_std")[1]);
        Assert.Throws<ArgumentException>(() => Tables.GroupStats(df, ["nope"], ["v"]));
        var html = NotebookCharts.TableHtml(g);
        Assert.Contains("<th style=\"text-align:right;padding:2px 8px;border-bottom:1px solid #888\">v_std</th>", html);
        Assert.Contains(">1.4142<", html);
        Assert.DoesNotContain("NaN", html);
    }
}
