using System.Diagnostics;
using System.IO.Compression;
using Fop.Research.Data;
using Microsoft.DotNet.Interactive;
using Microsoft.DotNet.Interactive.Commands;
using Microsoft.DotNet.Interactive.CSharp;
using Microsoft.DotNet.Interactive.Events;
using Microsoft.DotNet.Interactive.PackageManagement;

namespace Fop.Research.Tests;

/// <summary>`dotnet pack` makes both packages with README, license, docs and symbols, and a notebook cell takes them with #i / #r "nuget: ...".</summary>
public sealed class PackageTests : IDisposable
{
    readonly string dir = Directory.CreateTempSubdirectory("fop-pack-").FullName;
    // A version no earlier run used: NuGet caches a package by id and version, and a stale copy would hide a broken pack.
    readonly string version = $"0.1.0-test.{DateTime.UtcNow:yyyyMMddHHmmssfff}";

    public void Dispose()
    {
        Directory.Delete(dir, recursive: true);
        foreach (var id in new[] { "fop.research", "fop.research.plots" })
        {
            var cached = Path.Combine(Microsoft.DotNet.Interactive.Utility.Paths.NugetCache, id, version);
            if (Directory.Exists(cached)) Directory.Delete(cached, recursive: true);
            var parent = Path.GetDirectoryName(cached)!;
            if (Directory.Exists(parent) && !Directory.EnumerateFileSystemEntries(parent).Any()) Directory.Delete(parent);
        }
    }

    [Fact]
    public async Task PackedPackagesLoadInANotebookCellFromALocalFolder()
    {
        var root = DatasetFiles.RepositoryRoot()!;
        var pack = Process.Start(new ProcessStartInfo("dotnet", ["pack", Path.Combine(root, "Fop.Research.sln"), "-c", "Release", "-o", dir, $"-p:Version={version}", "-nologo", "-v", "q"])
            { RedirectStandardOutput = true, RedirectStandardError = true })!;
        var output = await pack.StandardOutput.ReadToEndAsync() + await pack.StandardError.ReadToEndAsync();
        await pack.WaitForExitAsync();
        Assert.True(pack.ExitCode == 0, output);
        foreach (var id in new[] { "Fop.Research", "Fop.Research.Plots" })
        {
            Assert.True(File.Exists(Path.Combine(dir, $"{id}.{version}.snupkg")), $"{id}: no symbol package");
            using var zip = ZipFile.OpenRead(Path.Combine(dir, $"{id}.{version}.nupkg"));
            var entries = zip.Entries.Select(e => e.FullName).ToList();
            Assert.Contains("README.md", entries);
            Assert.Contains("LICENSE", entries);
            Assert.Contains($"lib/net10.0/{id}.xml", entries);
        }
        Assert.DoesNotContain(Directory.GetFiles(dir), f => Path.GetFileName(f).StartsWith("fop.", StringComparison.Ordinal) || f.Contains("Tests"));

        using var kernel = new CSharpKernel().UseKernelHelpers().UseNugetDirective((k, packages) =>
        {
            k.AddAssemblyReferences(packages.SelectMany(p => p.AssemblyPaths));
            return Task.CompletedTask;
        }, forceRestore: false);
        // The two lines the README shows.
        var restore = await kernel.SendAsync(new SubmitCode($"#i \"nuget: {dir}\"\n#r \"nuget: Fop.Research.Plots, {version}\""));
        Assert.Null(restore.Events.OfType<CommandFailed>().FirstOrDefault()?.Message);
        // Transitive packages are reported with lower-case ids.
        var added = restore.Events.OfType<PackageAdded>().Select(e => (e.PackageReference.PackageName.ToLowerInvariant(), e.PackageReference.PackageVersion)).ToList();
        Assert.Contains(("fop.research.plots", version), added);
        Assert.Contains(("fop.research", version), added);
        Assert.Contains(added, p => p.Item1 == "torchsharp");
        var use = await kernel.SendAsync(new SubmitCode("""
            using Fop.Research.Teaching;
            using Fop.Research.Plots;
            using Fop.Research.Plots.Views;
            NotebookCharts.Register();
            var problem = Problems.LogisticRegression();
            TeachingViews.Trajectories(problem, new System.Collections.Generic.List<(string, System.Collections.Generic.IReadOnlyList<Vec2>)> { ("natural gradient", PlaneSteps.Trajectory(problem, TeachingMethod.NaturalGradient, new TrajectoryOptions { Steps = 5 })) })
            """));
        Assert.Null(use.Events.OfType<CommandFailed>().FirstOrDefault()?.Message);
        Assert.Contains(use.Events.OfType<DisplayEvent>().SelectMany(e => e.FormattedValues), v => v.MimeType == "text/html" && v.Value.Contains("Plotly.newPlot"));
    }
}
