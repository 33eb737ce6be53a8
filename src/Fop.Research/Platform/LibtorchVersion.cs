using System.Runtime.InteropServices;
using System.Text.RegularExpressions;

namespace Fop.Research.Platform;

/// <summary>
/// Which libtorch a process is about to load when none came with TorchSharp (the <c>system</c> route: an installed
/// PyTorch's or a libtorch download's lib folder on LD_LIBRARY_PATH), and whether TorchSharp can use it. TorchSharp's
/// native layer is compiled against one libtorch's C++ ABI; another minor version loads with undefined symbols or, worse,
/// loads and crashes at its first call. So the version is read from the files beside the libraries and the native layer
/// is linked eagerly (every symbol resolved) before the first torch call, and a mismatch is a clear error naming both
/// versions instead of a crash.
/// </summary>
public static partial class LibtorchVersion
{
    /// <summary>The libtorch version (major.minor) TorchSharp 0.107.0 was built against.</summary>
    public const string Expected = "2.10";

    /// <summary>Set to 1 to load a libtorch of another version anyway (the eager link still has to succeed).</summary>
    public const string AllowMismatchVariable = "FOP_ALLOW_LIBTORCH_MISMATCH";

    /// <summary>
    /// The version of the libtorch in <paramref name="libDir"/> (the folder holding libtorch_cpu.so) and the file it was read
    /// from: PyTorch's <c>torch/version.py</c> one level up, or a libtorch download's <c>build-version</c>; null when neither says.
    /// </summary>
    public static (string Version, string Source)? Read(string libDir)
    {
        var parent = Path.GetFullPath(Path.Combine(libDir, ".."));
        var versionPy = Path.Combine(parent, "version.py");
        if (File.Exists(versionPy) && VersionAssignment().Match(File.ReadAllText(versionPy)) is { Success: true } m) return (m.Groups[1].Value, versionPy);
        var buildVersion = Path.Combine(parent, "build-version");
        if (File.Exists(buildVersion) && File.ReadAllText(buildVersion).Trim() is { Length: > 0 } v) return (v, buildVersion);
        return null;
    }

    /// <summary>Whether <paramref name="version"/> (e.g. "2.11.0+cu130") has the major.minor of <paramref name="expected"/>.</summary>
    public static bool Matches(string version, string expected = Expected)
    {
        var core = version.Split('+')[0].Split('.');
        var want = expected.Split('.');
        return core.Length >= 2 && core[0] == want[0] && core[1] == want[1];
    }

    /// <summary>The folders of LD_LIBRARY_PATH that hold a libtorch (libtorch_cpu.so), in search order.</summary>
    public static IReadOnlyList<string> OnLibraryPath(string? ldLibraryPath = null) =>
        (ldLibraryPath ?? Environment.GetEnvironmentVariable("LD_LIBRARY_PATH") ?? "")
            .Split(':', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Where(d => File.Exists(Path.Combine(d, "libtorch_cpu.so"))).ToList();

    /// <summary>
    /// Null when the libtorch in <paramref name="libDir"/> can be used, else the error to show: another major.minor than
    /// <see cref="Expected"/> (unless <paramref name="allowMismatch"/>), or a version nothing beside it states (a warning is
    /// not enough there: the crash it would prevent is silent).
    /// </summary>
    public static string? Problem(string libDir, bool allowMismatch)
    {
        var found = Read(libDir);
        if (found is null)
            return allowMismatch ? null : $"the libtorch in {libDir} states no version (no ../version.py or ../build-version beside it); TorchSharp 0.107.0 needs libtorch {Expected}. " +
                $"Point LD_LIBRARY_PATH at PyTorch {Expected}'s torch/lib or a libtorch {Expected} download, or set {AllowMismatchVariable}=1 to try this one.";
        if (Matches(found.Value.Version) || allowMismatch) return null;
        return $"the libtorch in {libDir} is {found.Value.Version} ({found.Value.Source}), but TorchSharp 0.107.0 was built for libtorch {Expected}: " +
            $"its C++ ABI differs, and the first call would fail or crash. Install PyTorch {Expected}.x (pip install 'torch=={Expected}.*') and point LD_LIBRARY_PATH at its torch/lib, " +
            $"use the libtorch packages (dotnet build -p:FopLibtorch=cpu or cuda), or set {AllowMismatchVariable}=1 to try it anyway.";
    }

    /// <summary>
    /// Loads <paramref name="library"/> with every undefined symbol resolved now (RTLD_NOW), after the libraries it needs were
    /// loaded globally; null on success, else the loader's message (it names the first missing symbol).
    /// </summary>
    public static string? LinkEagerly(string library)
    {
        const int RtldNow = 2;
        // The first call binds dlerror's import (a dlsym, which would clear the message) and clears any earlier error.
        dlerror();
        var handle = dlopen(library, RtldNow);
        if (handle != IntPtr.Zero) return null;
        return Marshal.PtrToStringUTF8(dlerror()) ?? "unknown loader error";
    }

    [GeneratedRegex(@"__version__\s*=\s*['""]([^'""]+)['""]")]
    private static partial Regex VersionAssignment();

    // libdl.so.2 exists on every glibc: the loader itself before 2.34, a forwarder to libc.so.6 since.
    [DllImport("libdl.so.2", CharSet = CharSet.Ansi, BestFitMapping = false, ThrowOnUnmappableChar = true)]
    static extern IntPtr dlopen([MarshalAs(UnmanagedType.LPUTF8Str)] string file, int mode);

    [DllImport("libdl.so.2")]
    static extern IntPtr dlerror();
}
