namespace Fop.Research.Studies;

/// <summary>
/// What `fop curves` reads and decides, as records a notebook can query: the claim, replication and comparator studies,
/// every claim cell with its Holm decision and verdict (the first family, the replication's undecided cells, the second
/// family against Shampoo, SOAP and Muon), and FOP's mechanism rows. <see cref="CurveClaimsReport"/> renders it.
/// </summary>
public sealed record CurveEvidence(IReadOnlyList<CurveStudy> Claims, IReadOnlyList<CurveStudy> Replication, IReadOnlyList<CurveStudy> Comparators, CurveStudy? MechanismStudy,
    IReadOnlyList<DecidedCell> Family, IReadOnlyList<DecidedCell> ReplicationCells, IReadOnlyList<DecidedCell> SecondFamily, IReadOnlyList<MechanismRow> Mechanism)
{
    /// <summary>The studies whose cells form the first family, relative to the repository root.</summary>
    public static IReadOnlyList<string> DefaultClaims { get; } = ["experiments/studies/fmnist-curves-b8192.json", "experiments/studies/fmnist-curves-b55000.json"];
    /// <summary>The replication studies (raw p-values, no verdict).</summary>
    public static IReadOnlyList<string> DefaultReplication { get; } = ["experiments/studies/fmnist-curves-cnn.json"];
    /// <summary>The studies of the second family's comparators.</summary>
    public static IReadOnlyList<string> DefaultComparators { get; } = ["experiments/studies/fmnist-curves-newopt-b8192.json"];
    /// <summary>The mechanism study (KFAC and FOP at matched rates across batch sizes).</summary>
    public const string DefaultMechanism = "experiments/studies/fmnist-curves-mechanism.json";
    /// <summary>The interleaved benches behind the cost per step, as CONFIG=FILE (a config may have several).</summary>
    public static IReadOnlyList<string> DefaultBench { get; } = ["mlp-b8192=experiments/results/bench/fair-mlp-b8192.json", "mlp-b55000=experiments/results/bench/fair-mlp-b55000.json",
        $"mlp-b8192={NewOptBench}"];
    /// <summary>FOP beside Shampoo, SOAP and Muon at the MLP's batch 8192: optional among the defaults until it is measured.</summary>
    public const string NewOptBench = "experiments/results/bench/fair-mlp-b8192-newopt.json";

    /// <summary>
    /// Reads the studies' committed results under <paramref name="results"/> and decides every cell. Paths are relative to
    /// <paramref name="root"/> (the repository root, or "" for the working directory). A missing <see cref="NewOptBench"/> is
    /// reported through <paramref name="note"/> and its pairs use the runs' own medians; any other missing file is an error.
    /// </summary>
    public static CurveEvidence Load(string root, string results, IEnumerable<string> claims, IEnumerable<string> replication, IEnumerable<string> comparators,
        string? mechanism, IEnumerable<string> bench, Action<string>? note = null)
    {
        string At(string path) => Path.IsPathRooted(path) ? path : Path.Combine(root, path);
        if (!Directory.Exists(At(results))) throw new DirectoryNotFoundException($"results {At(results)}: no such folder.");
        var parsed = bench.Select(b => b.Split('=', 2) is [var config, var file] && config.Length > 0 && file.Length > 0 ? (Config: config, File: file)
            : throw new ArgumentException($"bench {b}: expected CONFIG=FILE (e.g. mlp-b8192=experiments/results/bench/fair-mlp-b8192.json).")).ToList();
        foreach (var b in parsed.Where(b => b.File == NewOptBench && !File.Exists(At(b.File))))
            note?.Invoke($"no {b.File} yet (fop bench of FOP, Shampoo, SOAP and Muon on {b.Config}): their time cells use the runs' own medians, marked in-run.");
        var costs = new StepCosts(parsed.Where(b => b.File != NewOptBench || File.Exists(At(b.File))).GroupBy(b => b.Config)
            .ToDictionary(g => g.Key, g => (IReadOnlyList<BenchCosts>)g.Select(b => BenchCosts.Load(At(b.File))).ToList()));
        CurveStudy Read(string file)
        {
            var study = StudyFile.Load(At(file));
            return CurveStudy.Load(study, Path.Combine(At(results), study.Name), costs);
        }
        var claimStudies = claims.Select(Read).ToList();
        var replicationStudies = replication.Select(Read).ToList();
        var comparatorStudies = comparators.Select(Read).ToList();
        var mechanismStudy = mechanism is not null && File.Exists(At(mechanism)) ? Read(mechanism) : null;
        if (claimStudies.Concat(replicationStudies).All(s => s.Runs.Count == 0))
            throw new FileNotFoundException($"none of the curves studies has results under {At(results)} yet: run experiments/scripts/curves-study.sh first.");

        var first = CurveClaims.Decide(claimStudies.SelectMany(CurveClaims.Cells).ToList(), replicationStudies.SelectMany(CurveClaims.Cells).ToList());
        var second = CurveClaims.Decide(comparatorStudies.SelectMany(c => claimStudies.SelectMany(s => CurveClaims.ComparatorCells(s, c))).ToList(), []);
        // The mechanism table reads the claim targets at every run: a study read at other targets is read again at them.
        var targets = claimStudies.SelectMany(s => s.Targets).Distinct().Order().ToList();
        var runs = claimStudies.Append(mechanismStudy).OfType<CurveStudy>().DistinctBy(s => s.Study.Name)
            .SelectMany(s => s.Targets.SequenceEqual(targets) ? s.Runs : RateCurves.Read(s.Study, StudyResults.Load(Path.Combine(At(results), s.Study.Name)), targets)).ToList();
        return new CurveEvidence(claimStudies, replicationStudies, comparatorStudies, mechanismStudy, first.Where(d => d.InFamily).ToList(), first.Where(d => !d.InFamily).ToList(),
            second, MechanismRow.Of(runs, targets));
    }

    /// <summary>The committed evidence with the default studies and benches, from the repository at <paramref name="root"/>.</summary>
    public static CurveEvidence LoadDefault(string root, Action<string>? note = null) =>
        Load(root, Path.Combine("experiments", "results"), DefaultClaims, DefaultReplication, DefaultComparators, DefaultMechanism, DefaultBench, note);

    /// <summary>The cells of both families that Holm and the rules call supported.</summary>
    public IReadOnlyList<DecidedCell> Supported => Family.Concat(SecondFamily).Where(d => d.Verdict == Verdict.Supported).ToList();
}
