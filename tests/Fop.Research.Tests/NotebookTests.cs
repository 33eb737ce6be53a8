using Fop.Research.Data;
using Microsoft.DotNet.Interactive;
using Microsoft.DotNet.Interactive.Commands;
using Microsoft.DotNet.Interactive.CSharp;
using Microsoft.DotNet.Interactive.Events;
using System.Text.Json.Nodes;

namespace Fop.Research.Tests;

/// <summary>
/// Executes every notebook in notebooks/ headless at smoke size; any failing cell fails the test, and so does a notebook
/// that shows no chart. With FOP_NOTEBOOK_SAVE=1 the executed notebook is written back with its outputs (at the size in
/// FOP_NOTEBOOK_SIZE, smoke by default): that is how the committed outputs are made.
/// </summary>
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
        // The notebook's JSON is read and written directly: outputs replace outputs, nothing else in the file changes.
        var document = JsonNode.Parse(File.ReadAllText(path))!.AsObject();
        bool save = Environment.GetEnvironmentVariable("FOP_NOTEBOOK_SAVE") == "1";
        var size = save ? Environment.GetEnvironmentVariable("FOP_NOTEBOOK_SIZE") ?? "smoke" : "smoke";
        Environment.SetEnvironmentVariable("FOP_NOTEBOOK_SIZE", size);
        using var kernel = new CSharpKernel().UseKernelHelpers();   // display() and friends, as in Jupyter and VS Code
        // The notebook references the Release build of the library; here the suite's own build of the same code stands in.
        var binDir = Path.GetDirectoryName(typeof(Training.Trainer).Assembly.Location)!;
        int cells = 0, charts = 0, order = 0;
        // Notebooks run with the notebook's folder as the working directory, as Jupyter and VS Code do.
        Environment.CurrentDirectory = Path.GetDirectoryName(path)!;
        foreach (var cell in document["cells"]!.AsArray().Select(c => c!.AsObject()).Where(c => (string?)c["cell_type"] == "code"))
        {
            // nbformat allows the source as one string or as a list of lines.
            var source = cell["source"] is JsonArray lines ? string.Concat(lines.Select(l => (string?)l)) : (string?)cell["source"] ?? "";
            if (string.IsNullOrWhiteSpace(source)) continue;
            var code = string.Join("\n", source.Split('\n').Select(line =>
                line.TrimStart().StartsWith("#r \"") && line.Contains("artifacts/bin/")
                    ? $"#r \"{Path.Combine(binDir, Path.GetFileName(line.Trim().TrimEnd('"').Split('/').Last()))}\""
                    : line));
            var result = await kernel.SendAsync(new SubmitCode(code));
            charts += result.Events.OfType<DisplayEvent>().SelectMany(e => e.FormattedValues).Count(v => v.MimeType == "text/html" && v.Value.Contains("Plotly.newPlot"));
            var failure = result.Events.OfType<CommandFailed>().FirstOrDefault();
            Assert.True(failure is null, $"{name}, cell {cells}: {failure?.Message}\n{code}");
            if (save)
            {
                cell["outputs"] = new JsonArray(Outputs(result.Events).ToArray());
                cell["execution_count"] = ++order;
            }
            cells++;
        }
        Assert.True(cells >= 3, $"{name}: only {cells} code cells ran");
        Assert.True(charts > 0, $"{name}: displays no chart");
        if (save)
        {
            document["metadata"]!["fop_outputs"] = $"executed at size '{size}' on {Environment.ProcessorCount} CPU cores, {DateTime.UtcNow:yyyy-MM-dd}";
            File.WriteAllText(path, document.ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }) + "\n");
        }
    }

    /// <summary>A cell's outputs as Jupyter records: printed text, and displays with every format (figures also as PNG, for viewers that run no scripts).</summary>
    static IEnumerable<JsonNode> Outputs(IEnumerable<KernelEvent> events)
    {
        static JsonArray Lines(string text) => new(System.Text.RegularExpressions.Regex.Split(text, "(?<=\n)").Where(l => l.Length > 0).Select(l => (JsonNode)JsonValue.Create(l)!).ToArray());
        var stdout = string.Concat(events.OfType<StandardOutputValueProduced>().SelectMany(e => e.FormattedValues).Select(v => v.Value));
        if (stdout.Length > 0) yield return new JsonObject { ["output_type"] = "stream", ["name"] = "stdout", ["text"] = Lines(stdout) };
        foreach (var e in events.OfType<DisplayEvent>().Where(e => e is not StandardOutputValueProduced and not StandardErrorValueProduced))
        {
            var data = new JsonObject();
            foreach (var v in e.FormattedValues) data[v.MimeType] = Lines(v.Value);
            if (e.Value is Research.Plots.Figures.Figure figure) data["image/png"] = Convert.ToBase64String(Research.Plots.Figures.PngRenderer.Encode(figure));
            yield return new JsonObject { ["output_type"] = e is ReturnValueProduced ? "execute_result" : "display_data", ["data"] = data, ["metadata"] = new JsonObject() };
        }
    }
}
