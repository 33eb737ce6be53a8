using System.Text.Json;

namespace Fop.Research.Studies;

/// <summary>
/// An interleaved per-step bench (<c>fop bench --json</c>, e.g. experiments/results/bench/fair-mlp-b8192.json): every round
/// times every optimizer one after another, so a ratio taken within a round sees the same machine state on both sides.
/// </summary>
public sealed record BenchCosts(string File, int Batch, string Machine, IReadOnlyList<BenchRound> Rounds)
{
    /// <summary>Reads a bench JSON file (its rounds_detail); a defect is an error naming the file.</summary>
    public static BenchCosts Load(string path)
    {
        try
        {
            using var doc = JsonDocument.Parse(System.IO.File.ReadAllText(path));
            var root = doc.RootElement;
            var rounds = root.GetProperty("rounds_detail").EnumerateArray()
                .Select(r => new BenchRound(r.GetProperty("round").GetInt32(), r.GetProperty("optimizer").GetString()!, r.GetProperty("ms_per_step").GetDouble())).ToList();
            if (rounds.Count == 0) throw new InvalidDataException("no rounds");
            return new BenchCosts(path, root.GetProperty("batch").GetInt32(), root.TryGetProperty("machine", out var m) ? m.GetString() ?? "" : "", rounds);
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or InvalidDataException or FormatException)
        {
            throw new InvalidDataException($"{path}: not a bench record with rounds_detail ({e.Message}).", e);
        }
    }

    /// <summary>Whether some round timed <paramref name="optimizer"/>.</summary>
    public bool Times(string optimizer) => Rounds.Any(r => r.Optimizer == optimizer);

    /// <summary>Median milliseconds per step of <paramref name="optimizer"/> over the rounds.</summary>
    public double MedianMs(string optimizer) => CostRatio.MedianOf(Rounds.Where(r => r.Optimizer == optimizer).Select(r => r.MsPerStep));

    /// <summary>
    /// The cost of <paramref name="a"/>'s step over <paramref name="b"/>'s: the ratio within each round, its median and its
    /// range over the rounds (the range, not an interval: the rounds are few, and the range is what a time ratio carries).
    /// </summary>
    public CostRatio Ratio(string a, string b)
    {
        var ratios = Rounds.Where(r => r.Optimizer == a)
            .Join(Rounds.Where(r => r.Optimizer == b), r => r.Round, r => r.Round, (x, y) => x.MsPerStep / y.MsPerStep).Order().ToList();
        if (ratios.Count == 0) throw new InvalidDataException($"{File}: no round times both {a} and {b}.");
        return new CostRatio(CostRatio.MedianOf(ratios), ratios[0], ratios[^1], $"{Path.GetFileName(File)}, {ratios.Count} interleaved rounds").Validate();
    }
}

/// <summary>One optimizer's milliseconds per step in one round of a bench.</summary>
public sealed record BenchRound(int Round, string Optimizer, double MsPerStep);
