using System.Text.Json;
using System.Text.Json.Serialization;
using Fop.Research.Io;

namespace Fop.Research.Training;

/// <summary>The JSON conventions of the records a run writes and reads back (summary, trainer state): config naming, NaN and infinities as strings, unknown keys skipped.</summary>
public static class RunJson
{
    /// <summary>The options.</summary>
    public static JsonSerializerOptions Options { get; } = new(ConfigFile.Json)
    {
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Skip,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
        // Records written by earlier versions are read as they are; nullability is enforced on configs, not on results.
        RespectNullableAnnotations = false,
    };

    /// <summary>The options for records read back as results (summaries): a key the record does not have is a defect (a damaged key would otherwise read as a missing value).</summary>
    public static JsonSerializerOptions Strict { get; } = new(Options) { UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow };

    /// <summary>Reads a record, turning any defect into an <see cref="InvalidDataException"/> that names the file.</summary>
    public static T Read<T>(string path, JsonSerializerOptions? options = null) where T : class
    {
        if (Directory.Exists(path)) throw new InvalidDataException($"{path}: is a directory, expected a JSON file.");
        try { return JsonSerializer.Deserialize<T>(File.ReadAllText(path), options ?? Options) ?? throw new InvalidDataException($"{path}: empty (null) JSON."); }
        catch (JsonException e) { throw new InvalidDataException($"{path}: not a valid {typeof(T).Name} ({e.Message}). Delete it to re-run this step.", e); }
        catch (Exception e) when (e is IOException and not FileNotFoundException or UnauthorizedAccessException) { throw new InvalidDataException($"{path}: could not be read ({e.Message}).", e); }
    }

    /// <summary>Writes a record atomically.</summary>
    public static void Write<T>(string path, T value) => AtomicFile.WriteAllText(path, JsonSerializer.Serialize(value, Options));
}

/// <summary>One row of metrics.csv: the state after an epoch.</summary>
public sealed record EpochMetrics(int Epoch, long Steps, double Lr, double TrainLoss, double TrainAccuracy, double TestLoss, double TestAccuracy,
    double TrainSeconds, double EvalSeconds, int SkippedSteps, double ValLoss = double.NaN, double ValAccuracy = double.NaN)
{
    /// <summary>CSV header.</summary>
    public const string Header = "epoch,steps,lr,train_loss,train_accuracy,test_loss,test_accuracy,train_seconds,eval_seconds,wall_seconds,skipped_steps";
    /// <summary>CSV header of a run with a validation split (two more columns at the end).</summary>
    public const string HeaderWithValidation = Header + ",val_loss,val_accuracy";
    /// <summary>Whether this row carries validation metrics.</summary>
    public bool HasValidation => !double.IsNaN(ValAccuracy);
    /// <summary>The cells of this row of metrics.csv (with the validation columns when the run has a validation split).</summary>
    public string[] Cells()
    {
        string[] cells = [LogCells.Int(Epoch), LogCells.Int(Steps), LogCells.G(Lr), LogCells.G(TrainLoss), LogCells.G(TrainAccuracy), LogCells.G(TestLoss),
            LogCells.G(TestAccuracy), LogCells.Fixed(TrainSeconds), LogCells.Fixed(EvalSeconds), LogCells.Fixed(TrainSeconds + EvalSeconds), LogCells.Int(SkippedSteps)];
        return HasValidation ? [.. cells, LogCells.G(ValLoss), LogCells.G(ValAccuracy)] : cells;
    }

    /// <summary>The text of a metrics.csv holding <paramref name="rows"/> (the header with validation columns when the first row has them).</summary>
    public static string Table(IReadOnlyList<EpochMetrics> rows) =>
        Io.CsvTable.Text((rows.Count > 0 && rows[0].HasValidation ? HeaderWithValidation : Header).Split(','), rows.Select(r => r.Cells()));

    /// <summary>The rows of a run folder's metrics.csv (columns found by name, so older files with extra columns still read).</summary>
    public static IReadOnlyList<EpochMetrics> Read(string runDir)
    {
        var path = Path.Combine(runDir, "metrics.csv");
        if (new FileInfo(path).Length == 0) throw new InvalidDataException($"{path}: empty, expected the header '{Header}'.");
        var inv = System.Globalization.CultureInfo.InvariantCulture;
        return Io.CsvTable.Read(path).Select(r =>
        {
            double D(string name) => double.Parse(r.Cell(name, path), inv);
            double Optional(string name) => r.TryGetValue(name, out var v) ? double.Parse(v, inv) : double.NaN;
            try
            {
                return new EpochMetrics(int.Parse(r.Cell("epoch", path), inv), long.Parse(r.Cell("steps", path), inv), D("lr"), D("train_loss"), D("train_accuracy"),
                    D("test_loss"), D("test_accuracy"), D("train_seconds"), D("eval_seconds"), int.Parse(r.Cell("skipped_steps", path), inv), Optional("val_loss"), Optional("val_accuracy"));
            }
            catch (Exception e) when (e is FormatException or OverflowException) { throw new InvalidDataException($"{path}: a row cannot be read ({e.Message}).", e); }
        }).ToList();
    }
}

/// <summary>When test accuracy first reached the target.</summary>
/// <param name="Epoch">Epochs completed (1-based) when it was first reached.</param>
/// <param name="TrainSeconds">Wall-clock training seconds until then, evaluation excluded.</param>
/// <param name="WallSeconds">Wall-clock seconds until then, evaluation included.</param>
public sealed record TimeToTarget(int Epoch, double TrainSeconds, double WallSeconds);

/// <summary>The outcome of a run (summary.json).</summary>
public sealed record RunSummary
{
    /// <summary>Run name.</summary>
    public string Name { get; init; } = "";
    /// <summary>Optimizer name.</summary>
    public string Optimizer { get; init; } = "";
    /// <summary>Model name.</summary>
    public string Model { get; init; } = "";
    /// <summary>Logical batch size.</summary>
    public int BatchSize { get; init; }
    /// <summary>Learning rate after linear scaling.</summary>
    public double Lr { get; init; }
    /// <summary>Seed.</summary>
    public long Seed { get; init; }
    /// <summary>Epochs completed.</summary>
    public int EpochsRun { get; init; }
    /// <summary>Optimizer steps taken.</summary>
    public long Steps { get; init; }
    /// <summary>Best test accuracy over epochs.</summary>
    public double BestTestAccuracy { get; init; }
    /// <summary>Test accuracy after the last epoch.</summary>
    public double FinalTestAccuracy { get; init; }
    /// <summary>Best validation accuracy over epochs (NaN without a validation split).</summary>
    public double BestValAccuracy { get; init; } = double.NaN;
    /// <summary>Validation accuracy after the last epoch (NaN without a validation split).</summary>
    public double FinalValAccuracy { get; init; } = double.NaN;
    /// <summary>Target accuracy, if any (validation accuracy when the run had a validation split, else test).</summary>
    public double? TargetAccuracy { get; init; }
    /// <summary>First crossing of the target, or null.</summary>
    public TimeToTarget? TimeToTarget { get; init; }
    /// <summary>Steps done at the first evaluation (an epoch end, or any step while eval_every_step_above is in force) that reached the target, or null.</summary>
    public long? StepsToTarget { get; init; }
    /// <summary>Training seconds (evaluation excluded).</summary>
    public double TrainSeconds { get; init; }
    /// <summary>Evaluation seconds.</summary>
    public double EvalSeconds { get; init; }
    /// <summary>Median milliseconds per optimizer step.</summary>
    public double MedianStepMs { get; init; }
    /// <summary>Steps refused because of non-finite values.</summary>
    public int SkippedSteps { get; init; }
    /// <summary>Parameters with a curvature preconditioner.</summary>
    public IReadOnlyList<string> PreconditionedParameters { get; init; } = [];
    /// <summary>Warnings raised by the optimizer (deduplicated).</summary>
    public IReadOnlyList<string> Warnings { get; init; } = [];
    /// <summary>Whether the run reached its epoch budget (false when stopped early or interrupted).</summary>
    public bool Completed { get; init; }
    /// <summary>Why the run stopped early because it diverged (null: it did not).</summary>
    public string? Diverged { get; init; }
    /// <summary>Device used.</summary>
    public string Device { get; init; } = "";

    /// <summary>Reads a summary.json (NaN accuracies of diverged runs included); a defect is an error naming the file.</summary>
    public static RunSummary Read(string path) => RunJson.Read<RunSummary>(path, RunJson.Strict);
}

/// <summary>Progress of a run, reported after every step.</summary>
/// <param name="Epoch">Epoch in progress (1-based).</param>
/// <param name="Epochs">Epochs of the run.</param>
/// <param name="Step">Step within the epoch (1-based).</param>
/// <param name="StepsPerEpoch">Steps in an epoch.</param>
/// <param name="GlobalStep">Steps done (1-based).</param>
/// <param name="Loss">The epoch's mean training loss so far.</param>
/// <param name="Accuracy">The epoch's training accuracy so far.</param>
/// <param name="LastTestAccuracy">The last evaluation's accuracy, if any.</param>
/// <param name="Elapsed">Training and evaluation time, resumed runs included.</param>
/// <param name="Remaining">Estimated time left.</param>
/// <param name="StepSyncs">What the last step made the host wait on, from its batch to its end (a GPU's view, counted on any device).</param>
public sealed record TrainingProgress(int Epoch, int Epochs, int Step, int StepsPerEpoch, long GlobalStep, double Loss, double Accuracy, double? LastTestAccuracy, TimeSpan Elapsed, TimeSpan? Remaining,
    Devices.SyncCounts StepSyncs = default);
