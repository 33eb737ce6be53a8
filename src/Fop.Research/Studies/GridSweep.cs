using Fop.Research.Training;

namespace Fop.Research.Studies;

/// <summary>One axis of a grid sweep: a config key and the values it takes.</summary>
public sealed record GridAxis(string Key, IReadOnlyList<string> Values)
{
    /// <summary>Parses <c>key=v1,v2,...</c>.</summary>
    public static GridAxis Parse(string text)
    {
        int eq = text.IndexOf('=');
        if (eq <= 0) throw new ArgumentException($"--grid '{text}': expected key=v1,v2,...");
        var values = text[(eq + 1)..].Split(',', StringSplitOptions.TrimEntries);
        if (values.All(v => v.Length == 0)) throw new ArgumentException($"--grid '{text}': no values.");
        if (values.Any(v => v.Length == 0)) throw new ArgumentException($"--grid '{text}': an empty value between commas (a typo?).");
        if (values.Distinct().Count() != values.Length) throw new ArgumentException($"--grid '{text}': a value is listed twice.");
        return new GridAxis(text[..eq].Trim(), values);
    }
}

/// <summary>
/// The cross product of grid axes over a base config, one run folder per point under the base run's name. It runs on a
/// <see cref="StudyRunner"/>, so starting it again reads finished points back (whatever their outcome: completed,
/// diverged, abandoned) and resumes an interrupted one.
/// </summary>
public static class GridSweep
{
    /// <summary>The configs of every grid point, each named after its settings, validated before anything runs.</summary>
    public static IReadOnlyList<RunConfig> Points(RunConfig baseConfig, IReadOnlyList<GridAxis> axes)
    {
        IEnumerable<List<(string Key, string Value)>> points = [[]];
        foreach (var axis in axes) points = points.SelectMany(p => axis.Values.Select(v => p.Append((axis.Key, v)).ToList())).ToList();
        return points.Select(point =>
        {
            var name = point.Count == 0 ? "base" : string.Join("_", point.Select(p => $"{p.Key.Split('.').Last()}-{p.Value}"));
            return ConfigFile.Override(baseConfig, point.Select(p => $"{p.Key}={p.Value}").Append($"name={name}")).Validate();
        }).ToList();
    }

    /// <summary>
    /// Runs (or reads back) every point under <c>output_dir/name</c> of the base config; <paramref name="train"/> trains one
    /// point (config, its data as the runner loaded and shares it, folder), resuming it; null trains with a plain trainer.
    /// </summary>
    public static IReadOnlyList<RunSummary> Run(RunConfig baseConfig, IReadOnlyList<GridAxis> axes, Func<RunConfig, RunData, string, RunSummary>? train = null, Action<string>? onMessage = null)
    {
        var configs = Points(baseConfig, axes);
        StudyRunner? self = null;
        using var runner = self = new StudyRunner(Path.Combine(baseConfig.OutputDir, baseConfig.Name),
            train is null ? null : (config, dir) => train(config, self!.Data(config), dir)) { OnMessage = onMessage };
        foreach (var config in configs) runner.Run(config);
        return runner.Summaries;
    }
}
