using System.Diagnostics;
using Fop.Research.Data;

namespace Fop.Research.Tests;

/// <summary>
/// The packages made exactly as the README says (`dotnet pack -c Release` in the repository root, into artifacts/package),
/// with this version's copies dropped from the NuGet cache so that whatever restores Fop.Research 0.1.0 next — a notebook
/// kernel, a console app — takes the fresh pack. Made once for the tests that use it.
/// </summary>
public sealed class PackedLibrary
{
    /// <summary>The version the packs carry (Directory.Build.props).</summary>
    public const string Version = "0.1.0";

    /// <summary>The repository root.</summary>
    public string Root { get; } = DatasetFiles.RepositoryRoot()!;

    /// <summary>The folder the packages are in.</summary>
    public string Feed => Path.Combine(Root, "artifacts", "package");

    /// <summary>What `dotnet pack` printed, and its exit code.</summary>
    public (int ExitCode, string Output) Pack { get; }

    /// <summary>Packs and clears the cached copies.</summary>
    public PackedLibrary()
    {
        Pack = Run("dotnet", ["pack", "-c", "Release"], Root);
        var cache = Environment.GetEnvironmentVariable("NUGET_PACKAGES") ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        foreach (var id in new[] { "fop.research", "fop.research.plots" })
            if (Directory.Exists(Path.Combine(cache, id))) Directory.Delete(Path.Combine(cache, id), recursive: true);
    }

    /// <summary>Runs a program to its end (10 minutes at most) and returns its exit code and output.</summary>
    public static (int ExitCode, string Output) Run(string program, IEnumerable<string> args, string workingDirectory, IDictionary<string, string>? env = null)
    {
        var info = new ProcessStartInfo(program) { WorkingDirectory = workingDirectory, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) info.ArgumentList.Add(a);
        if (env is not null) foreach (var (k, v) in env) info.Environment[k] = v;
        using var p = Process.Start(info)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(TimeSpan.FromMinutes(10))) { p.Kill(entireProcessTree: true); return (-1, $"{program} {string.Join(' ', args)}: timed out"); }
        p.WaitForExit();
        return (p.ExitCode, stdout.Result + stderr.Result);
    }
}
