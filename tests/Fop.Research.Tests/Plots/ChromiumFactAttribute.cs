namespace Fop.Research.Tests.Plots;

/// <summary>
/// Marks a test that opens pages in headless Chromium: skipped with a note where Chromium is not installed (a developer's
/// `dotnet test` on a fresh machine), but run — and failing without it — under CI, which installs it.
/// </summary>
public sealed class ChromiumFactAttribute : FactAttribute
{
    /// <summary>The Chromium executable, or null.</summary>
    public static string? Path => new[] { "/usr/bin/chromium", "/usr/bin/chromium-browser" }.FirstOrDefault(File.Exists);

    /// <summary>Skips without Chromium outside CI.</summary>
    public ChromiumFactAttribute()
    {
        if (Path is null && Environment.GetEnvironmentVariable("CI") != "true")
            Skip = "headless Chromium is not installed here (apt-get install -y chromium; .ci/run installs it): this test opens saved charts in it";
    }
}
