using System.Reflection;

namespace Fop.Cli;

/// <summary>What `fop --version` prints: the library's informational version (with its commit when the build knew it).</summary>
internal static class CliVersion
{
    /// <summary>The version text.</summary>
    public static string Text =>
        typeof(Fop.Research.Training.RunConfig).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "unknown";
}
