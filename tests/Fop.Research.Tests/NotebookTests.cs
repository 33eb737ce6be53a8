using Fop.Research.Data;
using Microsoft.DotNet.Interactive;
using Microsoft.DotNet.Interactive.Commands;
using Microsoft.DotNet.Interactive.CSharp;
using Microsoft.DotNet.Interactive.Documents;
using Microsoft.DotNet.Interactive.Documents.Jupyter;
using Microsoft.DotNet.Interactive.Events;

namespace Fop.Research.Tests;

/// <summary>Executes every notebook in notebooks/ headless at smoke size; any failing cell fails the test.</summary>
public class NotebookTests
{
    public static TheoryData<string> Notebooks()
    {
        var data = new TheoryData<string>();
        var root = DatasetFiles.RepositoryRoot()!;
        foreach (var f in Directory.GetFiles(Path.Combine(root, "notebooks"), "*.ipynb").OrderBy(f => f)) data.Add(Path.GetFileName(f));
        return data;
    }

    [Theory]
    [MemberData(nameof(Notebooks))]
    public async Task NotebookRunsWithoutAFailingCell(string name)
    {
        var path = Path.Combine(DatasetFiles.RepositoryRoot()!, "notebooks", name);
        var document = Notebook.Parse(File.ReadAllText(path), new KernelInfoCollection { new("csharp", languageName: "C#", aliases: ["c#", "C#"]) });
        Environment.SetEnvironmentVariable("FOP_NOTEBOOK_SIZE", "smoke");
        using var kernel = new CSharpKernel().UseKernelHelpers();   // display() and friends, as in Jupyter and VS Code
        // The notebook references the Release build of the library; here the suite's own build of the same code stands in.
        var binDir = Path.GetDirectoryName(typeof(Training.Trainer).Assembly.Location)!;
        int cells = 0, charts = 0;
        // Notebooks run with the notebook's folder as the working directory, as Jupyter and VS Code do.
        Environment.CurrentDirectory = Path.GetDirectoryName(path)!;
        foreach (var element in document.Elements.Where(e => e.KernelName is "csharp" or "C#" or null && !string.IsNullOrWhiteSpace(e.Contents)))
        {
            if (element.KernelName is null) continue;
            var code = string.Join("\n", element.Contents.Split('\n').Select(line =>
                line.TrimStart().StartsWith("#r \"") && line.Contains("artifacts/bin/")
                    ? $"#r \"{Path.Combine(binDir, Path.GetFileName(line.Trim().TrimEnd('"').Split('/').Last()))}\""
                    : line));
            var result = await kernel.SendAsync(new SubmitCode(code));
            charts += result.Events.OfType<DisplayEvent>().SelectMany(e => e.FormattedValues).Count(v => v.MimeType == "text/html" && v.Value.Contains("Plotly.newPlot"));
            var failure = result.Events.OfType<CommandFailed>().FirstOrDefault();
            Assert.True(failure is null, $"{name}, cell {cells}: {failure?.Message}\n{code}");
            cells++;
        }
        Assert.True(cells >= 3, $"{name}: only {cells} code cells ran");
        Assert.True(charts > 0, $"{name}: displays no chart");
    }
}
