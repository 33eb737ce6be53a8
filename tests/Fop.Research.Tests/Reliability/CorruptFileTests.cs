using Fop.Research.Data;
using Fop.Research.Studies;
using Fop.Research.Training;

namespace Fop.Research.Tests.Reliability;

/// <summary>Each file the program reads, corrupted in turn: a clear error naming it, and nothing previously written lost.</summary>
public sealed class CorruptFileTests : IDisposable
{
    readonly string dir = Directory.CreateTempSubdirectory("fop-corrupt-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    static void Corrupt(string path, string how, Action writeWrongValues)
    {
        switch (how)
        {
            case "truncated": { var b = File.ReadAllBytes(path); File.WriteAllBytes(path, b[..(b.Length / 2)]); break; }
            case "flipped": { var b = File.ReadAllBytes(path); for (int i = b.Length / 3; i < b.Length / 3 + 8; i++) b[i] ^= 0x5A; File.WriteAllBytes(path, b); break; }
            case "empty": File.WriteAllBytes(path, []); break;
            case "directory": File.Delete(path); Directory.CreateDirectory(path); break;
            case "wrong": writeWrongValues(); break;
        }
    }

    static Dictionary<string, byte[]> Files(string root) => Directory.GetFiles(root, "*", SearchOption.AllDirectories).ToDictionary(f => f, File.ReadAllBytes);

    [Theory]
    [InlineData("train-labels", "truncated")] [InlineData("train-labels", "flipped")] [InlineData("train-labels", "empty")] [InlineData("train-labels", "directory")] [InlineData("train-labels", "wrong")]
    [InlineData("train-images", "truncated")] [InlineData("train-images", "flipped")] [InlineData("train-images", "empty")] [InlineData("train-images", "directory")] [InlineData("train-images", "wrong")]
    [InlineData("checkpoint", "truncated")] [InlineData("checkpoint", "flipped")] [InlineData("checkpoint", "empty")] [InlineData("checkpoint", "directory")] [InlineData("checkpoint", "wrong")]
    [InlineData("config", "truncated")] [InlineData("config", "flipped")] [InlineData("config", "empty")] [InlineData("config", "directory")] [InlineData("config", "wrong")]
    [InlineData("summary", "truncated")] [InlineData("summary", "flipped")] [InlineData("summary", "empty")] [InlineData("summary", "directory")] [InlineData("summary", "wrong")]
    public void ACorruptFileIsAnErrorNamingItAndNothingElseIsLost(string file, string how)
    {
        var config = ResumeAndRecordTests.SmallRun(dir, "kfac", "name=r");
        var data = Path.Combine(dir, "fmnist");
        var runDir = Path.Combine(dir, "r");
        using (var d = RunData.Load(config))
        {
            new Trainer(config, d) { StopAfterSteps = 3 }.Run(runDir);
            new Trainer(config with { Name = "done" }, d).Run(Path.Combine(dir, "done"));
        }
        var path = file switch
        {
            "train-labels" => Path.Combine(data, "train-labels-idx1-ubyte.gz"),
            "train-images" => Path.Combine(data, "train-images-idx3-ubyte.gz"),
            "checkpoint" => Path.Combine(runDir, "checkpoint.bin"),
            "config" => Path.Combine(runDir, "config.json"),
            _ => Path.Combine(dir, "done", "summary.json"),
        };
        Corrupt(path, how, () =>
        {
            switch (file)
            {
                case "train-labels": IdxFile.WriteLabels(path, Enumerable.Range(0, 120).Select(i => (byte)(i == 50 ? 10 : i % 10)).ToArray()); break;
                case "train-images": IdxFile.WriteImages(path, new byte[120 * 27 * 28], 120, 27, 28); break;     // 27 rows: not the test set's shape
                case "checkpoint":
                    // A valid checkpoint of another model.
                    var other = ResumeAndRecordTests.SmallRun(dir, "kfac", "name=other", "mlp_hidden=[32]");
                    using (var d = RunData.Load(other)) new Trainer(other, d) { StopAfterSteps = 2 }.Run(Path.Combine(dir, "other"));
                    File.Copy(Path.Combine(dir, "other", "checkpoint.bin"), path, overwrite: true);
                    Directory.Delete(Path.Combine(dir, "other"), recursive: true);
                    break;
                case "config": File.WriteAllText(path, File.ReadAllText(path).Replace("\"lr\": 0.01", "\"lr\": \"fast\"")); break;
                default: File.WriteAllText(path, File.ReadAllText(path).Replace("\"steps\": 10", "\"steps\": \"many\"")); break;
            }
        });
        var before = Files(dir);

        var e = Record.Exception(() =>
        {
            switch (file)
            {
                case "train-labels" or "train-images": using (RunData.Load(config)) { } break;
                case "checkpoint" or "config": using (var d = RunData.Load(config)) new Trainer(config, d).Run(runDir, resume: true); break;
                default:
                    using (var runner = new StudyRunner(dir)) runner.Run(config with { Name = "done" });
                    break;
            }
        });
        Assert.NotNull(e);
        Assert.True(e is InvalidDataException or IOException or ArgumentException, $"{e.GetType().Name}: {e.Message}");
        Assert.Contains(path, e.Message);
        var after = Files(dir);
        foreach (var (f, bytes) in before) Assert.True(after.TryGetValue(f, out var now) && now.AsSpan().SequenceEqual(bytes), $"{f} changed or vanished");
    }
}
