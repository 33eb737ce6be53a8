using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;

namespace Fop.Research.Platform;

/// <summary>
/// Makes TorchSharp 0.107.0 load on Linux distributions whose libstdc++ predates GCC 13 (Debian 12), wherever the library is
/// used from: a notebook that took the packages with <c>#r "nuget: ..."</c>, a console app built against them, or this
/// repository's build. Its libLibTorchSharp.so asks for the symbol version GLIBCXX_3.4.32 for one symbol that is never
/// called; when the copy TorchSharp would load still asks for it strongly and the system lacks it, a copy with that
/// requirement marked weak (one byte, VER_FLG_WEAK) is written to a private temporary folder, libtorch and that copy are
/// loaded by full path, and TorchSharp's native imports are pointed at them. Nothing in the NuGet cache or the build output
/// is changed. Runs once, when the assembly is first used (and from the package's notebook extension, before any cell).
/// </summary>
public static class TorchSharpNatives
{
    const string VersionName = "GLIBCXX_3.4.32";
    static readonly object gate = new();
    static bool done;
    static IntPtr torchSharpHandle, torchCpuHandle;

    /// <summary>What <see cref="EnsureLoadable"/> found and did, one line (for notebooks and bug reports).</summary>
    public static string Status { get; private set; } = "not run";

    /// <summary>
    /// Why the libtorch found on LD_LIBRARY_PATH (no libtorch came with TorchSharp: the <c>system</c> route) cannot be used,
    /// or null; set by <see cref="EnsureLoadable"/>, which then loads nothing. A program stops with this message (see
    /// <see cref="LibtorchVersion"/>).
    /// </summary>
    public static string? LibtorchProblem { get; private set; }

    // A library's module initializer is what makes the fix reach every consumer without a call of theirs: it runs before
    // any Fop.Research code, so before the library's first tensor (CA2255 warns that libraries rarely need one).
#pragma warning disable CA2255
    [ModuleInitializer]
    internal static void OnLoad() => EnsureLoadable();
#pragma warning restore CA2255

    /// <summary>
    /// Applies the fix where it is needed; idempotent and safe to call anywhere before the first tensor. Call it first in a
    /// program that uses TorchSharp before touching any Fop.Research type. Never throws: if it cannot help, TorchSharp's own
    /// error appears at its first use, and <see cref="Status"/> says why.
    /// </summary>
    public static string EnsureLoadable()
    {
        lock (gate)
        {
            if (done) return Status;
            done = true;
            try { Status = Apply(typeof(TorchSharp.torch).Assembly); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or DllNotFoundException or BadImageFormatException or InvalidOperationException or ArgumentException)
            {
                Status = $"not applied: {e.Message}";
            }
            return Status;
        }
    }

    /// <summary>Like <see cref="EnsureLoadable"/>, and says on standard error when the fix was needed but could not be applied (a notebook's first output).</summary>
    public static void EnsureLoadableOrWarn()
    {
        var status = EnsureLoadable();
        if (LibtorchProblem is not null) Console.Error.WriteLine($"Fop.Research: {LibtorchProblem}");
        else if (status.StartsWith("not applied", StringComparison.Ordinal)) Console.Error.WriteLine($"Fop.Research: TorchSharp's natives were {status}");
    }

    static string Apply(Assembly torchSharp)
    {
        if (!OperatingSystem.IsLinux() || RuntimeInformation.ProcessArchitecture != Architecture.X64) return "not needed (not Linux x64)";
        var assemblyDir = Path.GetDirectoryName(torchSharp.Location);
        if (string.IsNullOrEmpty(assemblyDir)) return "not applied: TorchSharp's location is unknown";
        // The system route: no libtorch beside TorchSharp, one on LD_LIBRARY_PATH. Its version is checked before anything loads.
        var system = LibtorchDir(assemblyDir) is null ? LibtorchVersion.OnLibraryPath().FirstOrDefault() : null;
        if (system is not null && LibtorchVersion.Problem(system, Environment.GetEnvironmentVariable(LibtorchVersion.AllowMismatchVariable) == "1") is { } problem)
        {
            LibtorchProblem = problem;
            return $"refused: {problem}";
        }
        if (SystemLibstdcxxHas(VersionName)) return system is null ? $"not needed (the system's libstdc++ has {VersionName})" : LinkSystem(assemblyDir, system, null);
        string[] nativeDirs =
        [
            Path.Combine(assemblyDir, "runtimes", "linux-x64", "native"),                              // framework-dependent build output
            assemblyDir,                                                                                // RID-specific build or publish
            Path.GetFullPath(Path.Combine(assemblyDir, "..", "..", "runtimes", "linux-x64", "native")), // NuGet package layout
        ];
        var original = nativeDirs.Select(d => Path.Combine(d, "libLibTorchSharp.so")).FirstOrDefault(File.Exists);
        if (original is null) return $"not applied: no libLibTorchSharp.so near {assemblyDir}";
        var bytes = File.ReadAllBytes(original);
        // A copy already patched (this repository's build does it) loads as it is.
        if (WeakenVersion(bytes, VersionName) == 0) return $"not needed ({original} asks for {VersionName} weakly)";
        var libtorch = LibtorchDir(assemblyDir) ?? system;
        if (libtorch is null) return "not applied: no libtorch (libtorch_cpu.so) found; reference a libtorch package (libtorch-cpu-linux-x64, TorchSharp-cpu or TorchSharp-cuda-linux)";

        var key = Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(original)))[..16];
        var dir = Path.Combine(Path.GetTempPath(), "fop-torchsharp-natives", key);
        var patched = Path.Combine(dir, "libLibTorchSharp.so");
        if (!File.Exists(patched))
        {
            Directory.CreateDirectory(dir);
            var tmp = $"{patched}.{Environment.ProcessId}.tmp";
            File.WriteAllBytes(tmp, bytes);
            File.Move(tmp, patched, overwrite: true);
        }
        if (system is not null) return LinkSystem(assemblyDir, system, patched);
        LoadLibtorch(libtorch);
        torchSharpHandle = NativeLibrary.Load(patched);
        ResolveImports(torchSharp);
        return $"applied: {original} needs {VersionName}, which this system's libstdc++ lacks; loaded a copy with the requirement weakened ({patched}) and libtorch from {libtorch}";
    }

    // The copy's RUNPATH ($ORIGIN) does not reach libtorch: libtorch is loaded first by full path, and its sonames then
    // satisfy TorchSharp's native layer's needs.
    static void LoadLibtorch(string libtorch)
    {
        foreach (var name in new[] { "libc10.so", "libtorch_cpu.so", "libc10_cuda.so", "libtorch_cuda.so", "libtorch.so" })
        {
            var path = Path.Combine(libtorch, name);
            if (!File.Exists(path)) continue;
            var handle = NativeLibrary.Load(path);
            if (name == "libtorch_cpu.so") torchCpuHandle = handle;
        }
    }

    /// <summary>
    /// The system route after its version check: libtorch loaded from <paramref name="system"/>, then TorchSharp's native layer
    /// (<paramref name="patched"/>, or the original when the system's libstdc++ needs no patch) linked with every symbol
    /// resolved, so an ABI break is an error naming the missing symbol now rather than a crash at the first call.
    /// </summary>
    static string LinkSystem(string assemblyDir, string system, string? patched)
    {
        var native = patched ?? new[] { Path.Combine(assemblyDir, "runtimes", "linux-x64", "native"), assemblyDir }
            .Select(d => Path.Combine(d, "libLibTorchSharp.so")).FirstOrDefault(File.Exists);
        if (native is null) return $"not applied: no libLibTorchSharp.so near {assemblyDir}";
        LoadLibtorch(system);
        var version = LibtorchVersion.Read(system)?.Version ?? "of unstated version";
        if (LibtorchVersion.LinkEagerly(native) is { } error)
        {
            LibtorchProblem = $"TorchSharp's native layer ({native}) does not link against the libtorch in {system} ({version}; TorchSharp 0.107.0 needs {LibtorchVersion.Expected}): {error}";
            return $"refused: {LibtorchProblem}";
        }
        torchSharpHandle = NativeLibrary.Load(native);
        ResolveImports(typeof(TorchSharp.torch).Assembly);
        return $"system libtorch {version} from {system}; {native} links against it";
    }

    /// <summary>Points TorchSharp's native imports at the libraries loaded here.</summary>
    static void ResolveImports(Assembly torchSharp) => NativeLibrary.SetDllImportResolver(torchSharp, (name, _, _) => name switch
    {
        "LibTorchSharp" or "libLibTorchSharp" or "libLibTorchSharp.so" => torchSharpHandle,
        "torch_cpu" or "libtorch_cpu" or "libtorch_cpu.so" => torchCpuHandle,
        _ => IntPtr.Zero,
    });

    /// <summary>The folder holding libtorch_cpu.so: beside TorchSharp, or in any libtorch-* package of the NuGet cache TorchSharp came from.</summary>
    static string? LibtorchDir(string assemblyDir)
    {
        var dirs = new List<string> { Path.Combine(assemblyDir, "runtimes", "linux-x64", "native"), assemblyDir };
        // NuGet layout: <packages>/torchsharp/<version>/lib/<tfm>/TorchSharp.dll beside <packages>/libtorch-*/<version>/runtimes/linux-x64/native.
        var packages = Path.GetFullPath(Path.Combine(assemblyDir, "..", "..", "..", ".."));
        if (Directory.Exists(packages))
            foreach (var package in Directory.GetDirectories(packages, "libtorch-*").Order(StringComparer.Ordinal))
                dirs.AddRange(Directory.GetDirectories(package).OrderDescending(StringComparer.Ordinal).Select(v => Path.Combine(v, "runtimes", "linux-x64", "native")));
        return dirs.FirstOrDefault(d => File.Exists(Path.Combine(d, "libtorch_cpu.so")));
    }

    static bool SystemLibstdcxxHas(string version)
    {
        string[] candidates = ["/usr/lib/x86_64-linux-gnu/libstdc++.so.6", "/usr/lib64/libstdc++.so.6", "/lib/x86_64-linux-gnu/libstdc++.so.6", "/usr/lib/libstdc++.so.6"];
        var lib = candidates.FirstOrDefault(File.Exists);
        return lib is not null && File.ReadAllBytes(lib).AsSpan().IndexOf(Encoding.ASCII.GetBytes(version + "\0")) >= 0;
    }

    /// <summary>Sets VER_FLG_WEAK on every ELF version-need entry named <paramref name="version"/> in <paramref name="elf"/>; returns how many it changed.</summary>
    public static int WeakenVersion(byte[] elf, string version)
    {
        var b = elf;
        if (b.Length < 64 || b[0] != 0x7f || b[1] != (byte)'E' || b[4] != 2 || b[5] != 1) return 0;   // ELF64, little-endian only
        long sectionTable = BitConverter.ToInt64(b, 0x28);
        int entrySize = BitConverter.ToUInt16(b, 0x3A), sections = BitConverter.ToUInt16(b, 0x3C), changed = 0;
        for (int i = 0; i < sections; i++)
        {
            long section = sectionTable + (long)i * entrySize;
            if (BitConverter.ToUInt32(b, (int)section + 4) != 0x6ffffffe) continue;   // SHT_GNU_verneed
            long offset = BitConverter.ToInt64(b, (int)section + 24);
            int link = (int)BitConverter.ToUInt32(b, (int)section + 40), count = (int)BitConverter.ToUInt32(b, (int)section + 44);
            long strings = BitConverter.ToInt64(b, (int)(sectionTable + (long)link * entrySize) + 24);
            long need = offset;
            for (int k = 0; k < count; k++)
            {
                int auxCount = BitConverter.ToUInt16(b, (int)need + 2);
                long aux = need + BitConverter.ToUInt32(b, (int)need + 8);
                for (int j = 0; j < auxCount; j++)
                {
                    long nameAt = strings + BitConverter.ToUInt32(b, (int)aux + 8);
                    int end = Array.IndexOf(b, (byte)0, (int)nameAt);
                    ushort flags = BitConverter.ToUInt16(b, (int)aux + 4);
                    if (Encoding.ASCII.GetString(b, (int)nameAt, end - (int)nameAt) == version && (flags & 0x2) == 0)
                    {
                        BitConverter.GetBytes((ushort)(flags | 0x2)).CopyTo(b, (int)aux + 4);
                        changed++;
                    }
                    aux += BitConverter.ToUInt32(b, (int)aux + 12);
                }
                need += BitConverter.ToUInt32(b, (int)need + 12);
            }
        }
        return changed;
    }
}
