using System.Globalization;
using Fop.Research.Studies;
using Fop.Research.Training;

namespace Fop.Research.Tests;

/// <summary>
/// `fop curves` on small generated results whose answers are known: the curve tables, cross-fitted choices, the family's
/// cells with Holm, the replication without verdicts, the mechanism table and the figures; and a refusal without results.
/// </summary>
public sealed class CurvesReportTests : IDisposable
{
    readonly string dir = Directory.CreateTempSubdirectory("fop-curves-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    string Results => Path.Combine(dir, "results");

    static readonly CultureInfo Ci = CultureInfo.InvariantCulture;

    /// <summary>
    /// A study file and its results: per variant (label, optimizer, rate), every seed's run record with validation reaching
    /// 90% at <paramref name="crossing"/>(optimizer, rate, seed) steps (null: never; negative: the run diverged), 4 steps per
    /// epoch, evaluation after every step from step 4 on, and FOP's diagnostics and noise logs when <paramref name="logs"/>.
    /// </summary>
    string Study(string name, string config, int batch, (string Label, string Optimizer, double[] Rates)[] variants, long[] seeds,
        Func<string, double, long, int?> crossing, bool logs = false)
    {
        var studyDir = Path.Combine(dir, "studies");
        Directory.CreateDirectory(studyDir);
        var json = $$"""
            { "name": "{{name}}", "configs": ["base.json"], "targets": [0.9], "seeds": [{{string.Join(", ", seeds)}}], "records": ["steps.csv", "noise.csv"],
              "variants": [{{string.Join(", ", variants.Select(v => $$"""{ "label": "{{v.Label}}", "set": ["optimizer={{v.Optimizer}}"], "grid": { "key": "lr", "values": [{{string.Join(", ", v.Rates.Select(r => r.ToString("R", Ci)))}}] } }"""))}}] }
            """;
        var path = Path.Combine(studyDir, name + ".json");
        File.WriteAllText(path, json);
        var rows = new List<string> { "config,variant,seed,run" };
        foreach (var (label, optimizer, rates) in variants)
            foreach (var rate in rates)
                foreach (var seed in seeds)
                {
                    var variant = $"{label} lr {rate.ToString("R", Ci)}";
                    var run = $"{config}-{StudyFile.Slug(variant)}-s{seed}";
                    Record(Path.Combine(Results, name, "runs", run), run, optimizer, batch, rate, seed, crossing(optimizer, rate, seed), logs);
                    rows.Add($"{config},{variant},{seed},{run}");
                }
        File.WriteAllLines(Path.Combine(Results, name, "results.csv"), rows);
        return path;
    }

    void Record(string runDir, string name, string optimizer, int batch, double rate, long seed, int? crossing, bool logs)
    {
        Directory.CreateDirectory(runDir);
        var config = Reliability.ResumeAndRecordTests.SmallRun(dir, optimizer, $"name={name}", $"lr={rate.ToString("R", Ci)}", $"seed={seed}", $"batch_size={batch}",
            "validation_examples=24", "eval_every_step_above=0.8");
        File.WriteAllText(Path.Combine(runDir, "config.json"), ConfigFile.ToJson(config));
        bool diverged = crossing < 0;
        // Validation climbs 0.01 per step from 0.82 at step 4 until the crossing, then holds at 0.91; a diverged run stalls at 0.85.
        double Val(long step) => step < 4 ? 0.7 : diverged ? 0.85 : crossing is int c && step >= c ? 0.91 : Math.Min(0.89, 0.82 + 0.01 * (step - 4));
        int epochs = diverged ? 2 : 5;
        File.WriteAllText(Path.Combine(runDir, "metrics.csv"), EpochMetrics.Table(Enumerable.Range(1, epochs)
            .Select(e => new EpochMetrics(e, 4 * e, rate, 1, 0.5, 1, 0.8, e, 0.1, 0, 1, Val(4 * e))).ToList()));
        File.WriteAllText(Path.Combine(runDir, "evals.csv"), Io.CsvTable.Text(EvalLog.Header.Split(','), Enumerable.Range(4, 4 * epochs - 3)
            .Select(s => EvalLog.Row(new Evaluation(s, (s - 1) / 4 + 1, s, 1, Val(s))))));
        if (logs)
        {
            // FOP's diagnostics on even steps: perp ratio 0.2 at batch 512, half that at 2048; noise scale 1000.
            double perp = optimizer == "fop" ? 0.2 * 512 / batch : double.NaN;
            File.WriteAllLines(Path.Combine(runDir, "steps.csv"), Enumerable.Range(0, 20).Select(s => s % 2 == 0 && optimizer == "fop"
                ? FormattableString.Invariant($"{s},1,0.1,1,0.5,10,0,0.3,1.1,0.5,0.9,{perp},,,,")
                : FormattableString.Invariant($"{s},1,0.1,1,0.5,10,0,,,,,,,,,")).Prepend("step,epoch,lr,loss,accuracy,ms,skipped,beta,eta,s,cos_g1_g2,perp_ratio,kl_base,kl_cross,kl_orthogonal,kl_clip_factor"));
            File.WriteAllLines(Path.Combine(runDir, "noise.csv"), Enumerable.Range(0, 5).SelectMany(s => new[]
            {
                FormattableString.Invariant($"{5 * s},1,all,{batch},1,1,1000,0.5,1,1,1,0.1,0.2,0.5"),
                FormattableString.Invariant($"{5 * s},1,layers.0,{batch},1,1,3,0.5,1,1,1,,,"),
            }).Prepend(NoiseLog.Header));
        }
        RunJson.Write(Path.Combine(runDir, "summary.json"), new RunSummary
        {
            Name = name, Optimizer = optimizer, BatchSize = batch, Lr = rate, Seed = seed, EpochsRun = epochs, Steps = 4 * epochs,
            BestValAccuracy = Enumerable.Range(1, epochs).Max(e => Val(4 * e)), FinalValAccuracy = Val(4 * epochs), BestTestAccuracy = 0.8, FinalTestAccuracy = 0.8,
            MedianStepMs = optimizer == "fop" ? 12 : 10, Diverged = diverged ? "diverged" : null, Completed = !diverged,
        });
    }

    string Bench()
    {
        var path = Path.Combine(dir, "bench.json");
        File.WriteAllText(path, """
            { "batch": 512, "rounds_detail": [
              { "round": 0, "optimizer": "adamw", "ms_per_step": 100 }, { "round": 0, "optimizer": "kfac", "ms_per_step": 100 }, { "round": 0, "optimizer": "fop", "ms_per_step": 110 },
              { "round": 1, "optimizer": "adamw", "ms_per_step": 100 }, { "round": 1, "optimizer": "kfac", "ms_per_step": 100 }, { "round": 1, "optimizer": "fop", "ms_per_step": 120 },
              { "round": 2, "optimizer": "adamw", "ms_per_step": 100 }, { "round": 2, "optimizer": "kfac", "ms_per_step": 100 }, { "round": 2, "optimizer": "fop", "ms_per_step": 130 } ] }
            """);
        return path;
    }

    [Fact]
    public void TheReportGivesTheCellsItsRecordsImplyAndDrawsTheCurves()
    {
        // Batch 512: FOP reaches 90% at step 6 at both rates, KFAC at step 10 at its lower rate and diverges at its higher one,
        // AdamW at step 12. FOP's step costs 1.2 [1.1, 1.3] of KFAC's and AdamW's.
        var curves = Study("curves", "c512", 512, [("AdamW", "adamw", [0.01]), ("KFAC", "kfac", [0.001, 0.002]), ("FOP", "fop", [0.001, 0.002])], [0, 1, 2],
            (o, r, s) => o switch { "fop" => 6, "kfac" => r > 0.0015 ? -1 : 10, _ => 12 }, logs: true);
        var mechanism = Study("mech", "c2048", 2048, [("KFAC", "kfac", [0.001]), ("FOP", "fop", [0.001])], [0, 1, 2], (o, _, s) => o == "fop" ? 8 : 8 + (int)s, logs: true);
        var cnn = Study("cnn", "cnn-full", 96, [("KFAC", "kfac", [0.001]), ("FOP", "fop", [0.001])], [0, 1], (o, _, _) => o == "fop" ? 7 : null);
        // Muon reaches 90% at step 9 at both its rates; no bench timed it, so its cost comes from the runs (FOP 12 ms, Muon 10).
        var newopt = Study("newopt", "c512", 512, [("Muon", "muon", [0.01, 0.02])], [0, 1, 2], (_, _, _) => 9);
        var outFile = Path.Combine(dir, "claims.md");
        var r = Reliability.CliProcess.Run(["curves", "--study", curves, "--replication", cnn, "--comparators", newopt, "--mechanism", mechanism, "--bench", $"c512={Bench()}",
            "--results", Results, "--out", outFile]);
        Assert.True(r.ExitCode == 0, r.Stderr + r.Stdout);
        var md = File.ReadAllText(outFile);

        Assert.Contains("`curves`: 15 of 15 runs.", md);
        // The curve table: KFAC's higher rate failed in every seed; crossings known to one step.
        Assert.Contains("| KFAC | 0.002 | 3 | 3 | 0/3 | 85.00 [85.00, 85.00] |", md);
        Assert.Contains("| FOP | 0.001 | 3 | 0 | 3/3 / 6 [6-6] | 91.00 [91.00, 91.00] |", md);
        // Cross-fitted: each seed's KFAC rate is the one the other two seeds reached the target at.
        Assert.Contains("| KFAC | steps to 90% | 0: 0.001 -> 10; 1: 0.001 -> 10; 2: 0.001 -> 10 | 0.001 |", md);
        // Family: 2 comparators x (time, accuracy) + matched rates vs KFAC (reach, time, accuracy) = 7 cells.
        Assert.Contains("## The family: 7 cells, Holm at 0.05", md);
        // Time to 90%: FOP 6 steps against KFAC's 10 at 1.2 the cost: 0.72, the bench's range carried into the ends.
        Assert.Contains("| c512: FOP vs KFAC, cross-fitted, time to 90% | 3 | 0.72 [0.66, 0.78] (cost 1.20 [1.10, 1.30]) | 0 / 0 | 0 | 0 | yes | **supported** |", md);
        Assert.Contains("| c512: FOP vs AdamW, cross-fitted, time to 90% | 3 | 0.60 [0.55, 0.65]", md);
        // Matched rates: at 0.002 only FOP reaches it, in 3 of 6 pairs: McNemar p = 0.25, x4 by Holm (three smaller p-values before it).
        Assert.Contains("| c512: FOP vs KFAC, matched rates, reaching 90% | 6 | +3 of 6 pairs | 3 / 0 | 0.250 | 1.000 | no | undecided |", md);
        // The replication's cells have raw p-values and no verdict; its KFAC never reaches 90%.
        Assert.Contains("## Replication, no verdict", md);
        Assert.Contains("| cnn-full: FOP vs KFAC, matched rates, reaching 90% | 2 | +2 of 2 pairs | 2 / 0 | 0.500 |", md);
        // The second family: FOP's curve against Muon's at cross-fitted rates, Holm apart; 6 / 9 steps at 1.2 the cost, from the runs.
        Assert.Contains("## The second family: FOP among Shampoo, SOAP and Muon: 2 cells, Holm at 0.05", md);
        Assert.Contains("| c512: FOP vs Muon, cross-fitted, time to 90% | 3 | 0.80 [0.80, 0.80] (cost 1.20 [1.20, 1.20], *in-run*) |", md);
        Assert.Contains("| Muon | steps to 90% | 0: 0.01 -> 9; 1: 0.01 -> 9; 2: 0.01 -> 9 | 0.01 |", md);
        Assert.True(File.Exists(Path.Combine(Results, "newopt", "rate-curves-c512.png")));
        // Mechanism: FOP's perp ratio by batch, B_simple 1000 from the noise logs, FOP / KFAC steps at 2048: 8 / (8, 9, 10).
        Assert.Matches(@"\| c512 \| 512 \| 0.001 \| 3 / 3 \| 0.2 ± 0 \| 0.3 ± 0 \| 1.1 ± 0 \| 0.9 ± 0 \| 1000 ± 0 \| 0.51 \|", md);
        Assert.Matches(@"\| c2048 \| 2048 \| 0.001 \| 3 / 3 \| 0.05 ± 0 \|.*\| 0.89 \[", md);

        Assert.True(File.Exists(Path.Combine(Results, "curves", "rate-curves-c512.png")));
        Assert.True(File.Exists(Path.Combine(Results, "cnn", "rate-curves-cnn-full.png")));
        Assert.True(File.Exists(Path.Combine(Results, "mech", "mechanism-vs-batch.png")));
        if (Environment.GetEnvironmentVariable("FOP_KEEP_FIGURES") is { Length: > 0 } keep)
            foreach (var file in Directory.GetFiles(Results, "*.png", SearchOption.AllDirectories).Append(outFile)) File.Copy(file, Path.Combine(keep, Path.GetFileName(file)), overwrite: true);
    }

    [Fact]
    public void WithoutResultsNothingIsWritten()
    {
        var curves = Study("empty", "c512", 512, [("FOP", "fop", [0.001])], [0], (_, _, _) => 6);
        File.Delete(Path.Combine(Results, "empty", "results.csv"));
        var outFile = Path.Combine(dir, "claims.md");
        var r = Reliability.CliProcess.Run(["curves", "--study", curves, "--replication", curves, "--comparators", curves, "--mechanism", Path.Combine(dir, "none.json"), "--bench", $"c512={Bench()}",
            "--results", Results, "--out", outFile]);
        Assert.NotEqual(0, r.ExitCode);
        Assert.Contains("curves-study.sh", r.Stderr);
        Assert.False(File.Exists(outFile));
    }
}
