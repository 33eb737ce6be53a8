using System.Diagnostics;
using System.Text.Json;
using Fop.Research.Data;
using Fop.Research.Tests.Reliability;

namespace Fop.Research.Tests.Gpu;

/// <summary>
/// A test that needs Python with torch and numpy (Debian's python3-torch): skipped with a note where they are missing, but
/// run, and failing, under CI (CI=true, as .ci/run sets it; it installs python3-torch).
/// </summary>
public sealed class PyTorchFactAttribute : FactAttribute
{
    /// <summary>The Python that has torch: FOP_PYTHON, else Debian's /usr/bin/python3 (where apt's python3-torch installs).</summary>
    public static string Python => Environment.GetEnvironmentVariable("FOP_PYTHON") is { Length: > 0 } p ? p : "/usr/bin/python3";

    static readonly Lazy<string?> missing = new(() =>
    {
        var (code, output) = PyTorchReferenceTests.Run(Python, ["-c", "import torch, numpy"], TimeSpan.FromMinutes(1));
        return code == 0 ? null : $"{Python} with torch and numpy (apt-get install -y python3-torch; exit {code}: {output.Trim().Split('\n')[^1]})";
    });

    /// <summary>What is missing, or null when Python, torch and numpy are all there.</summary>
    public static string? Missing => missing.Value;

    /// <summary>Skips outside CI when torch is missing.</summary>
    public PyTorchFactAttribute()
    {
        if (Missing is { } what && Environment.GetEnvironmentVariable("CI") != "true")
            Skip = $"not installed here: {what}. .ci/run installs it; the PyTorch reference of experiments/gpu/ needs it";
    }
}

/// <summary>
/// One step case per model written by `fop reference-step` (float64, CPU) and replayed by the independent PyTorch KFAC and
/// FOP of experiments/gpu (pytorch_reference.py --compare): SGD, KFAC and FOP agree to round-off. Also: the comparison
/// fails for a case whose step was changed, bad input is refused with exit 2, and the timing path runs on the CPU.
/// </summary>
public sealed class PyTorchReferenceTests : IDisposable
{
    readonly string dir = Directory.CreateTempSubdirectory("fop-pyref-").FullName;
    static string Script => Path.Combine(DatasetFiles.RepositoryRoot()!, "experiments", "gpu", "pytorch_reference.py");
    // One thread each, so a test run stays on one core of a shared machine.
    static readonly Dictionary<string, string> OneThread = new() { ["OMP_NUM_THREADS"] = "1", ["MKL_NUM_THREADS"] = "1" };

    public void Dispose() => Directory.Delete(dir, recursive: true);

    /// <summary>Runs <paramref name="file"/> with <paramref name="args"/> on one thread; its exit code and stdout + stderr.</summary>
    internal static (int Code, string Output) Run(string file, IEnumerable<string> args, TimeSpan timeout)
    {
        var info = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) info.ArgumentList.Add(a);
        foreach (var (k, v) in OneThread) info.Environment[k] = v;
        try
        {
            using var process = Process.Start(info)!;
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            if (!process.WaitForExit(timeout)) { process.Kill(); return (-1, $"{file} did not finish in {timeout}"); }
            process.WaitForExit();
            return (process.ExitCode, stdout.Result + stderr.Result);
        }
        catch (System.ComponentModel.Win32Exception e) { return (-1, $"{file}: {e.Message}"); }
    }

    static void RequirePyTorch() => Assert.True(PyTorchFactAttribute.Missing is null, $"CI is set but {PyTorchFactAttribute.Missing} is missing");

    static (int Code, string Output) Python(params string[] args) => Run(PyTorchFactAttribute.Python, [Script, .. args], TimeSpan.FromMinutes(5));

    /// <summary>Writes a case with `fop reference-step` into a new folder and replays it; the comparison report.</summary>
    JsonElement WriteAndCompare(string name, params string[] args)
    {
        RequirePyTorch();
        var folder = Path.Combine(dir, name);
        var written = CliProcess.Run(["reference-step", "--out", folder, .. args], env: OneThread, timeout: TimeSpan.FromMinutes(3));
        Assert.True(written.ExitCode == 0, written.Stdout + written.Stderr);
        var (code, output) = Python("--compare", folder, "--device", "cpu");
        Assert.True(code == 0, output);
        return JsonDocument.Parse(File.ReadAllText(Path.Combine(folder, "comparison.json"))).RootElement;
    }

    static void AssertAgree(JsonElement report, double bound, params string[] optimizers)
    {
        Assert.True(report.GetProperty("passed").GetBoolean(), report.ToString());
        var found = report.GetProperty("optimizers").EnumerateObject().Select(o => o.Name).ToArray();
        Assert.Equal(optimizers, found);
        foreach (var o in report.GetProperty("optimizers").EnumerateObject())
            Assert.True(o.Value.GetProperty("max_error").GetDouble() < bound, $"{o.Name}: {o.Value.GetProperty("worst_tensor")}");
    }

    [PyTorchFact]
    public void SgdKfacAndFopStepsOnACnnWithBatchNormAgreeWithPyTorch()
    {
        // Two steps each: the second covers EMA factors and momentum; the KL clip binds (nu < 1) at these settings.
        var report = WriteAndCompare("smallcnn-bn", "--model", "smallcnn-bn", "--image", "12", "--batch", "16", "--steps", "2");
        AssertAgree(report, 1e-10, "sgd", "kfac", "fop");
        var kfac = report.GetProperty("optimizers").GetProperty("kfac").GetProperty("steps");
        Assert.All(kfac.EnumerateArray(), s => Assert.InRange(s.GetProperty("kl_clip_factor").GetDouble(), 1e-6, 0.999));
    }

    [PyTorchFact]
    public void SwitchedOptionsAgreeOnAnMlp()
    {
        // Eigenbasis damping, fresh factors, no KL clip, Nesterov, eta with g1 + g2, the projection with the raw Fisher.
        var report = WriteAndCompare("mlp", "--model", "mlp", "--batch", "15", "--set", "mlp_hidden=[24,16]", "--set", "kfac.damping_form=eigen",
            "--set", "kfac.ema_decay=null", "--set", "kfac.kl_clip=null", "--set", "sgd.nesterov=true", "--set", "fop.eta_reference=sum",
            "--set", "fop.damped_projection=false");
        AssertAgree(report, 1e-10, "sgd", "kfac", "fop");
    }

    [PyTorchFact]
    public void AFopStepOnResNet18AgreesWithPyTorch()
    {
        // The stem, the first three stages' convolutions (stride 2 and the 1x1 projection shortcut among them) and fc are
        // preconditioned; the 256- and 512-channel stages are left out, their 2304- and 4608-wide factors being what makes
        // a float64 step slow on a CPU. BatchNorm everywhere, 8x8 images so the last stage sees 1x1 maps of a half-batch of 4.
        var report = WriteAndCompare("resnet18", "--model", "resnet18", "--image", "8", "--batch", "8", "--steps", "1", "--optimizers", "fop",
            "--set", "kfac.layers.exclude_names=[\"^stages\\\\.([3-7]|2\\\\.conv2)\"]");
        AssertAgree(report, 1e-9, "fop");
    }

    [PyTorchFact]
    public void AChangedStepFailsTheComparison()
    {
        RequirePyTorch();
        var folder = Path.Combine(dir, "changed");
        var written = CliProcess.Run(["reference-step", "--out", folder, "--model", "mlp", "--batch", "8", "--steps", "1", "--optimizers", "fop",
            "--set", "mlp_hidden=[8]"], env: OneThread);
        Assert.True(written.ExitCode == 0, written.Stdout + written.Stderr);
        // One weight of FOP's step moved by a millionth of the step it took: far above round-off, far below a visible change.
        var manifest = JsonDocument.Parse(File.ReadAllText(Path.Combine(folder, "case.json"))).RootElement;
        var entry = manifest.GetProperty("optimizers").GetProperty("fop").GetProperty("steps")[0].GetProperty("state").EnumerateArray()
            .First(e => e.GetProperty("name").GetString() == "layers.0.weight");
        var initial = manifest.GetProperty("initial").EnumerateArray().First(e => e.GetProperty("name").GetString() == "layers.0.weight");
        var after = ReadDoubles(Path.Combine(folder, entry.GetProperty("file").GetString()!));
        var before = ReadDoubles(Path.Combine(folder, initial.GetProperty("file").GetString()!));
        double change = after.Zip(before, (a, b) => Math.Abs(a - b)).Max();
        after[0] += 1e-6 * change;
        File.WriteAllBytes(Path.Combine(folder, entry.GetProperty("file").GetString()!), after.SelectMany(BitConverter.GetBytes).ToArray());
        var (code, output) = Python("--compare", folder, "--device", "cpu");
        Assert.True(code == 1, output);
        Assert.Contains("DISAGREE", output);
    }

    static double[] ReadDoubles(string path)
    {
        var bytes = File.ReadAllBytes(path);
        return Enumerable.Range(0, bytes.Length / 8).Select(i => BitConverter.ToDouble(bytes, 8 * i)).ToArray();
    }

    [Theory]
    [InlineData("--model", "resnet50", "has no reference mirror")]
    [InlineData("--dtype", "float16", "--dtype 'float16'")]
    [InlineData("--optimizers", "sgd,adamw", "'adamw' is not one of")]
    [InlineData("--image", "4", "--image 4")]
    [InlineData("--steps", "0", "steps must be >= 1")]
    [InlineData("--set", "kfac.damping=-1", "damping")]
    public void BadInputIsRefusedWithExit2(string option, string value, string said)
    {
        var r = CliProcess.Run(["reference-step", "--out", Path.Combine(dir, "bad"), option, value]);
        Assert.True(r.ExitCode == 2, r.Stdout + r.Stderr);
        Assert.Contains(said, r.Stderr);
        Assert.Single(r.Stderr.Trim().Split('\n'), l => l.StartsWith("error:"));
    }

    [PyTorchFact]
    public void TheComparisonRefusesAFolderWithoutACase()
    {
        RequirePyTorch();
        var (code, output) = Python("--compare", dir, "--device", "cpu");
        Assert.True(code == 2, output);
        Assert.Contains("no case here", output);
    }

    [PyTorchFact]
    public void TheTimingPathRunsOnTheCpu()
    {
        RequirePyTorch();
        // KFAC and FOP through their curvature steps (Monte-Carlo Fisher, as `fop bench` runs them) on a small CNN with BatchNorm,
        // then ResNet-18's SGD step: the paths the GPU check times, at sizes a CPU does in seconds.
        var json = Path.Combine(dir, "timing.json");
        var (code, output) = Python("--device", "cpu", "--model", "smallcnn-bn", "--image", "12", "--batches", "8", "--rounds", "1", "--steps", "2",
            "--warmup", "1", "--interval", "2", "--json", json);
        Assert.True(code == 0, output);
        var rows = JsonDocument.Parse(File.ReadAllText(json)).RootElement.GetProperty("rows").EnumerateArray().ToList();
        Assert.Equal(["sgd", "kfac", "fop"], rows.Select(r => r.GetProperty("optimizer").GetString()));
        Assert.All(rows, r => Assert.True(r.GetProperty("ms_per_step").GetProperty("median").GetDouble() > 0));
        (code, output) = Python("--device", "cpu", "--batches", "8", "--rounds", "1", "--steps", "1", "--warmup", "0", "--optimizers", "sgd");
        Assert.True(code == 0, output);
        Assert.Contains("pytorch sgd batch 8:", output);
    }
}
