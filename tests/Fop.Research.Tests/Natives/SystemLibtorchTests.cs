using Fop.Research.Data;
using Fop.Research.Platform;

namespace Fop.Research.Tests.Natives;

/// <summary>
/// `fop` built for the system route (`-p:FopLibtorch=system`: TorchSharp alone, libtorch from LD_LIBRARY_PATH, as the GPU
/// check runs with an installed PyTorch), built once for these tests. The libtorch folders are made to look like PyTorch's
/// torch/lib (a torch/version.py one level up) around this machine's libtorch 2.10 from NuGet.
/// </summary>
public sealed class SystemRouteBuild : IDisposable
{
    /// <summary>Where the build and the fake installs live.</summary>
    public string Dir { get; } = Directory.CreateTempSubdirectory("fop-system-route-").FullName;

    /// <summary>What the build printed, and its exit code.</summary>
    public (int ExitCode, string Output) Build { get; }

    /// <summary>The built CLI.</summary>
    public string Dll => Path.Combine(Dir, "artifacts", "bin", "Fop.Cli", "release", "fop.dll");

    /// <summary>Builds the CLI against TorchSharp alone into <see cref="Dir"/>.</summary>
    public SystemRouteBuild()
    {
        var root = DatasetFiles.RepositoryRoot()!;
        Build = PackedLibrary.Run("dotnet", ["build", Path.Combine(root, "experiments", "Fop.Cli", "Fop.Cli.csproj"), "-c", "Release", "-p:FopLibtorch=system",
            $"-p:ArtifactsPath={Path.Combine(Dir, "artifacts")}", "-nologo", "-v", "q", "-clp:ErrorsOnly", "-tl:off"], root);
    }

    /// <summary>A torch/lib folder holding links to the NuGet libtorch 2.10 and a version.py saying <paramref name="version"/> (null: none).</summary>
    public string FakeTorch(string name, string? version)
    {
        var lib = Path.Combine(Dir, name, "torch", "lib");
        Directory.CreateDirectory(lib);
        var cache = Environment.GetEnvironmentVariable("NUGET_PACKAGES") ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        var native = Path.Combine(cache, "libtorch-cpu-linux-x64", "2.10.0", "runtimes", "linux-x64", "native");
        foreach (var so in Directory.GetFiles(native, "*.so*")) File.CreateSymbolicLink(Path.Combine(lib, Path.GetFileName(so)), so);
        if (version is not null) File.WriteAllText(Path.Combine(lib, "..", "version.py"), $"__version__ = '{version}'\ngit_version = 'x'\n");
        return lib;
    }

    /// <inheritdoc />
    public void Dispose() => Directory.Delete(Dir, recursive: true);
}

/// <summary>A test that compiles stand-in libraries with the system's C compiler: skipped with a note where there is none, outside CI.</summary>
public sealed class CompilerFactAttribute : FactAttribute
{
    /// <summary>Skips without cc outside CI (a fresh Debian machine with the .NET SDK has gcc; .ci/run installs it if not).</summary>
    public CompilerFactAttribute()
    {
        bool hasCc = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Any(d => File.Exists(Path.Combine(d, "cc")));
        if (!hasCc && Environment.GetEnvironmentVariable("CI") != "true")
            Skip = "no C compiler (cc) here: apt-get install -y gcc (.ci/run installs it); this test builds stand-in libtorch libraries";
    }
}

/// <summary>
/// On the system route a libtorch of another version than TorchSharp's is refused before the first torch call, naming
/// both versions; the matching one trains; a library that does not link is named by its missing symbol.
/// </summary>
public sealed class SystemLibtorchTests(SystemRouteBuild built) : IClassFixture<SystemRouteBuild>
{
    (int ExitCode, string Output) Fop(string lib, params string[] extra)
    {
        var env = new Dictionary<string, string> { ["LD_LIBRARY_PATH"] = lib, ["GLIBC_TUNABLES"] = "glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=17179869184", ["TERM"] = "dumb" };
        foreach (var e in extra.Where(e => e.Contains('=') && !e.StartsWith('-')))
        {
            var (k, v) = (e[..e.IndexOf('=')], e[(e.IndexOf('=') + 1)..]);
            env[k] = v;
        }
        return PackedLibrary.Run("dotnet", [built.Dll, "bench", "--model", "mlp", "--batch", "16", "--rounds", "3", "--interval", "1", "--data", "random", "--optimizers", "sgd,fop", "--whole-steps"],
            built.Dir, env);
    }

    [Fact]
    public void TheMatchingVersionLoadsAndTrains()
    {
        Assert.True(built.Build.ExitCode == 0, built.Build.Output);
        var r = Fop(built.FakeTorch("match", "2.10.0+cpu"));
        Assert.True(r.ExitCode == 0, r.Output);
        Assert.Contains("fop", r.Output);
    }

    [Fact]
    public void AnotherVersionIsRefusedNamingBothUnlessAllowed()
    {
        Assert.True(built.Build.ExitCode == 0, built.Build.Output);
        var lib = built.FakeTorch("newer", "2.11.0+cu130");
        var r = Fop(lib);
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("is 2.11.0+cu130", r.Output);
        Assert.Contains("built for libtorch 2.10", r.Output);
        Assert.Contains(LibtorchVersion.AllowMismatchVariable, r.Output);
        Assert.DoesNotContain("Unhandled", r.Output);
        // Allowed, the libraries (really 2.10) link and run.
        var allowed = Fop(lib, $"{LibtorchVersion.AllowMismatchVariable}=1");
        Assert.True(allowed.ExitCode == 0, allowed.Output);

        var unstated = Fop(built.FakeTorch("unstated", null));
        Assert.Equal(2, unstated.ExitCode);
        Assert.Contains("states no version", unstated.Output);
    }

    [CompilerFact]
    public void ALibtorchThatDoesNotLinkIsNamedByItsMissingSymbol()
    {
        Assert.True(built.Build.ExitCode == 0, built.Build.Output);
        // Stand-ins with the right names and version but none of libtorch's symbols: what an ABI break looks like to the loader.
        var lib = Path.Combine(built.Dir, "stub", "torch", "lib");
        Directory.CreateDirectory(lib);
        File.WriteAllText(Path.Combine(lib, "stub.c"), "int fop_stub_symbol(void) { return 0; }\n");
        foreach (var name in new[] { "libc10.so", "libtorch_cpu.so", "libtorch.so" })
        {
            var cc = PackedLibrary.Run("cc", ["-shared", "-fPIC", "-o", Path.Combine(lib, name), $"-Wl,-soname,{name}", Path.Combine(lib, "stub.c")], lib);
            Assert.True(cc.ExitCode == 0, cc.Output);
        }
        File.WriteAllText(Path.Combine(lib, "..", "version.py"), "__version__ = '2.10.0+cpu'\n");
        var r = Fop(lib);
        Assert.Equal(2, r.ExitCode);
        Assert.True(r.Output.Contains("does not link against the libtorch") && r.Output.Contains("undefined symbol"), r.Output);
    }

    [Theory]
    [InlineData("2.10.0+cpu", true)]
    [InlineData("2.10.1", true)]
    [InlineData("2.11.0+cu130", false)]
    [InlineData("3.10.0", false)]
    [InlineData("2.1.0", false)]
    public void VersionsMatchOnMajorAndMinor(string version, bool matches) => Assert.Equal(matches, LibtorchVersion.Matches(version));

    [Fact]
    public void TheExpectedVersionIsTheLibtorchPackageTheBuildReferences()
    {
        var props = File.ReadAllText(Path.Combine(DatasetFiles.RepositoryRoot()!, "Directory.Packages.props"));
        var m = System.Text.RegularExpressions.Regex.Match(props, "\"libtorch-cpu-linux-x64\" Version=\"([^\"]+)\"");
        Assert.True(m.Success);
        Assert.True(LibtorchVersion.Matches(m.Groups[1].Value), $"{m.Groups[1].Value} vs {LibtorchVersion.Expected}");
    }
}
