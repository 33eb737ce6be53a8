using System.Globalization;
using Fop.Research.Training;

namespace Fop.Research.Studies;

/// <summary>
/// FOP's internals and the gradient noise of one run, as medians over its logged steps: |g_perp| / |g_avg| (perp_ratio),
/// beta, eta and cos(g1, g2) from FOP's diagnostics steps in steps.csv (NaN for other optimizers), and the simple noise
/// scale B_simple = tr(Sigma) / |G|^2 from noise.csv's overall rows (NaN without noise.csv), with how many steps each median is over.
/// </summary>
public sealed record MechanismRun(string Run, double PerpRatio, double Beta, double Eta, double CosG1G2, int DiagnosticSteps, double NoiseScale, int NoiseSteps)
{
    /// <summary>Reads the medians from the logs in <paramref name="runDir"/> (those it lacks give NaN and a count of 0).</summary>
    public static MechanismRun Read(string runDir)
    {
        var steps = Columns(Path.Combine(runDir, "steps.csv"), ["perp_ratio", "beta", "eta", "cos_g1_g2"], _ => true);
        var noise = Columns(Path.Combine(runDir, "noise.csv"), ["noise_scale"], row => row["layer"] == "all");
        // Diagnostics steps are the rows where FOP filled beta; the others leave FOP's columns empty.
        var diagnostic = steps.Where(r => double.IsFinite(r[1])).ToList();
        double Median(IEnumerable<double> v) => v.Where(double.IsFinite).ToList() is { Count: > 0 } s ? CostRatio.MedianOf(s) : double.NaN;
        return new MechanismRun(Path.GetFileName(Path.TrimEndingDirectorySeparator(runDir)),
            Median(diagnostic.Select(r => r[0])), Median(diagnostic.Select(r => r[1])), Median(diagnostic.Select(r => r[2])), Median(diagnostic.Select(r => r[3])), diagnostic.Count,
            Median(noise.Select(r => r[0])), noise.Count(r => double.IsFinite(r[0])));
    }

    /// <summary>The named columns of a log's complete rows that pass <paramref name="keep"/> (empty cells as NaN; no file: no rows).</summary>
    static List<double[]> Columns(string path, string[] names, Func<IReadOnlyDictionary<string, string>, bool> keep)
    {
        if (!File.Exists(path)) return [];
        var columns = CsvLog.Header(path);
        var index = names.Select(n => Array.IndexOf(columns, n) is int i and >= 0 ? i : throw new InvalidDataException($"{path}: no '{n}' column.")).ToArray();
        return CsvLog.CompleteRows(path, columns.Length)
            .Where(r => keep(columns.Zip(r).ToDictionary(p => p.First, p => p.Second)))
            .Select(r => index.Select(i => r[i].Length == 0 ? double.NaN : double.Parse(r[i], CultureInfo.InvariantCulture)).ToArray()).ToList();
    }
}
