using System.Text.Json.Nodes;
using Fop.Research.Data;
using Fop.Research.Tests.Plots;

namespace Fop.Research.Tests;

/// <summary>
/// Marks a test that needs Jupyter and the .NET Interactive kernel (the dotnet tool Microsoft.dotnet-interactive, registered
/// with `dotnet interactive jupyter install`): skipped with a note where they are missing, but
/// run — and failing — under CI, whose .ci/run installs them.
/// </summary>
public sealed class KernelFactAttribute : TheoryAttribute
{
    /// <summary>What is missing, or null when all is there.</summary>
    public static string? Missing()
    {
        var path = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Append(Path.Combine(Home, ".dotnet", "tools"));
        if (!path.Any(d => File.Exists(Path.Combine(d, "jupyter-nbconvert")))) return "jupyter-nbconvert (apt-get install -y jupyter-nbconvert jupyter-client python3-nbformat python3-nbclient)";
        if (!path.Any(d => File.Exists(Path.Combine(d, "dotnet-interactive")))) return "the .NET Interactive kernel (dotnet tool install -g Microsoft.dotnet-interactive --version 1.0.712001; dotnet interactive jupyter install)";
        var specs = new[] { Path.Combine(Home, ".local", "share", "jupyter", "kernels"), "/usr/local/share/jupyter/kernels", "/usr/share/jupyter/kernels" };
        if (!specs.Any(d => File.Exists(Path.Combine(d, ".net-csharp", "kernel.json")))) return "the .net-csharp Jupyter kernel (dotnet interactive jupyter install)";
        return null;
    }

    static string Home => Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);

    /// <summary>Skips outside CI when something is missing.</summary>
    public KernelFactAttribute()
    {
        if (Missing() is { } missing && Environment.GetEnvironmentVariable("CI") != "true")
            Skip = $"not installed here: {missing}. .ci/run installs it; the notebooks run only in the real kernel";
    }
}

/// <summary>
/// Every notebook as a user meets it: valid nbformat 4.5, executed at smoke size by Jupyter's nbconvert in the real .NET
/// Interactive kernel from the packages `dotnet pack -c Release` made (no cell may fail, and each shows a chart), and its
/// committed outputs — made the same way by experiments/scripts/notebooks.sh — rendered to HTML by nbconvert and opened in
/// headless Chromium with no network, every chart a non-blank image.
/// </summary>
public sealed class NotebookTests(PackedLibrary packed) : IClassFixture<PackedLibrary>, IDisposable
{
    readonly string dir = Directory.CreateTempSubdirectory("fop-notebooks-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    /// <summary>The notebooks in notebooks/.</summary>
    public static TheoryData<string> Notebooks()
    {
        var data = new TheoryData<string>();
        foreach (var f in Directory.GetFiles(Path.Combine(DatasetFiles.RepositoryRoot()!, "notebooks"), "*.ipynb").Order()) data.Add(Path.GetFileName(f));
        return data;
    }

    static string Notebook(string name) => Path.Combine(DatasetFiles.RepositoryRoot()!, "notebooks", name);

    static (int, string) Jupyter(params string[] args) => PackedLibrary.Run("jupyter", args, Path.Combine(DatasetFiles.RepositoryRoot()!, "notebooks"),
        new Dictionary<string, string> { ["FOP_NOTEBOOK_SIZE"] = "smoke",
            // The kernel restores packages with MSBuild, which reads this from the environment: the fresh pack, no NuGet.Config change.
            ["RestoreAdditionalProjectSources"] = Path.Combine(DatasetFiles.RepositoryRoot()!, "artifacts", "package"), ["PATH"] = $"{Environment.GetEnvironmentVariable("PATH")}:{Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".dotnet", "tools")}" });

    static void AssertValidNbformat(string path)
    {
        var (code, output) = PackedLibrary.Run("/usr/bin/python3", ["-c", "import sys, nbformat; nbformat.validate(nbformat.read(sys.argv[1], as_version=4))", path], Path.GetDirectoryName(path)!);
        Assert.True(code == 0, $"{path}: not valid nbformat: {output}");
    }

    /// <summary>The PNG images among a notebook's outputs, and any error outputs.</summary>
    static (List<byte[]> Images, List<string> Errors) Outputs(string path)
    {
        var images = new List<byte[]>();
        var errors = new List<string>();
        foreach (var cell in JsonNode.Parse(File.ReadAllText(path))!["cells"]!.AsArray())
            foreach (var output in cell!["outputs"]?.AsArray() ?? [])
            {
                if ((string?)output!["output_type"] == "error") errors.Add($"{output["ename"]}: {output["evalue"]}");
                if (output["data"]?["image/png"] is { } png)
                    images.Add(Convert.FromBase64String(png is JsonArray lines ? string.Concat(lines.Select(l => (string?)l)) : (string)png!));
            }
        return (images, errors);
    }

    [KernelFact]
    [MemberData(nameof(Notebooks))]
    public void NotebookRunsInTheRealKernelAndItsCommittedChartsRender(string name)
    {
        Assert.True(packed.Pack.ExitCode == 0, packed.Pack.Output);
        var path = Notebook(name);
        AssertValidNbformat(path);

        // The committed outputs: made in the real kernel, no errors, every chart an image that shows something.
        var (committed, committedErrors) = Outputs(path);
        Assert.Empty(committedErrors);
        Assert.NotEmpty(committed);
        for (int i = 0; i < committed.Count; i++) Chromium.AssertNotBlank(committed[i], $"{name}, committed chart {i}");
        var (htmlCode, htmlOutput) = Jupyter("nbconvert", "--to", "html", "--output-dir", dir, path);
        Assert.True(htmlCode == 0, htmlOutput);
        var html = Path.Combine(dir, Path.ChangeExtension(name, ".html"));
        Assert.Equal(committed.Count, System.Text.RegularExpressions.Regex.Matches(File.ReadAllText(html), "<img src=\"data:image/png;base64,").Count);
        var shot = Path.Combine(dir, "page.png");
        Chromium.Screenshot(html, shot, 1000, 3000);
        Chromium.AssertNotBlank(File.ReadAllBytes(shot), $"{name} as HTML");

        // Executed now, at smoke size, by nbconvert in the real kernel: any failing cell fails the run.
        var (code, output) = Jupyter("nbconvert", "--to", "notebook", "--execute", "--ExecutePreprocessor.kernel_name=.net-csharp",
            "--ExecutePreprocessor.timeout=900", "--output-dir", dir, path);
        // nbconvert ends with the failing cell's source and error, buried under the kernel's log and stack frames.
        var said = string.Join('\n', output.Split('\n').Where(l => !l.StartsWith("   at ") && !l.StartsWith("info:") && !l.StartsWith("      ")));
        Assert.True(code == 0, $"{name} failed in the kernel:\n{said[Math.Max(0, said.Length - 4000)..]}");
        var executed = Path.Combine(dir, name);
        AssertValidNbformat(executed);
        var (images, errors) = Outputs(executed);
        Assert.Empty(errors);
        Assert.True(images.Count > 0, $"{name}: shows no chart");
    }
}
