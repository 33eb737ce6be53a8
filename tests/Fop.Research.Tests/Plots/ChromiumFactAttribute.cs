using System.Diagnostics;
using SkiaSharp;

namespace Fop.Research.Tests.Plots;

/// <summary>
/// Marks a test that opens pages in headless Chromium: skipped with a note where Chromium is not installed (a developer's
/// `dotnet test` on a fresh machine), but run — and failing without it — under CI, which installs it.
/// </summary>
public sealed class ChromiumFactAttribute : FactAttribute
{
    /// <summary>The Chromium executable, or null.</summary>
    public static string? Path => Chromium.Executable;

    /// <summary>Skips without Chromium outside CI.</summary>
    public ChromiumFactAttribute()
    {
        if (Path is null && Environment.GetEnvironmentVariable("CI") != "true")
            Skip = "headless Chromium is not installed here (apt-get install -y chromium; .ci/run installs it): this test opens saved charts in it";
    }
}

/// <summary>Screenshots of local pages in headless Chromium with no network at all, and a check that a screenshot is not blank.</summary>
internal static class Chromium
{
    /// <summary>The Chromium executable, or null.</summary>
    public static string? Executable => new[] { "/usr/bin/chromium", "/usr/bin/chromium-browser" }.FirstOrDefault(File.Exists);

    /// <summary>Opens <paramref name="page"/> and writes a screenshot of <paramref name="width"/> x <paramref name="height"/> pixels to <paramref name="shot"/>.</summary>
    public static void Screenshot(string page, string shot, int width = 900, int height = 600)
    {
        var chromium = Executable;
        Assert.True(chromium is not null, "headless Chromium is needed for this check: apt-get install -y chromium (.ci/run installs it)");
        var profile = Directory.CreateTempSubdirectory("fop-chromium-").FullName;
        try
        {
            // unshare -n runs the browser in a network namespace of its own: no network at all, so a CDN reference could not load.
            var info = new ProcessStartInfo("unshare") { RedirectStandardError = true, RedirectStandardOutput = true };
            foreach (var a in new[] { "-n", chromium!, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                         "--disable-component-update", "--disable-sync", $"--user-data-dir={profile}", $"--window-size={width},{height}",
                         "--virtual-time-budget=5000", $"--screenshot={shot}", $"file://{page}" }) info.ArgumentList.Add(a);
            using var p = Process.Start(info)!;
            _ = p.StandardOutput.ReadToEndAsync();
            _ = p.StandardError.ReadToEndAsync();
            Assert.True(p.WaitForExit(90_000), "chromium did not finish");
        }
        finally { Directory.Delete(profile, recursive: true); }
        Assert.True(File.Exists(shot), $"no screenshot of {page}");
    }

    /// <summary>Fails when an image is (nearly) one colour: few distinct colours or almost no non-white pixels.</summary>
    public static void AssertNotBlank(byte[] png, string what)
    {
        using var bitmap = SKBitmap.Decode(png);
        Assert.True(bitmap is not null, $"{what}: not a decodable image");
        var colours = new HashSet<uint>();
        long nonWhite = 0, samples = 0;
        for (int y = 0; y < bitmap!.Height; y += 2)
            for (int x = 0; x < bitmap.Width; x += 2)
            {
                var c = bitmap.GetPixel(x, y);
                colours.Add((uint)c);
                samples++;
                if (c.Red < 250 || c.Green < 250 || c.Blue < 250) nonWhite++;
            }
        Assert.True(colours.Count > 50 && nonWhite > 0.02 * samples, $"{what}: blank ({colours.Count} colours, {nonWhite} of {samples} samples not white)");
    }
}
