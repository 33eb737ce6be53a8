using System.IO.Compression;
using System.Xml.Linq;

namespace Fop.Research.Tests;

/// <summary>The README's `dotnet pack -c Release` works as written, the packages say what they need, and a plain console app runs from them.</summary>
public sealed class PackageTests(PackedLibrary packed) : IClassFixture<PackedLibrary>, IDisposable
{
    readonly string dir = Directory.CreateTempSubdirectory("fop-pack-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    [Fact]
    public void TheReadmesPackCommandMakesBothPackagesWithTheirReadmeDocsAndOnlyStableDependencies()
    {
        Assert.True(packed.Pack.ExitCode == 0, packed.Pack.Output);
        foreach (var id in new[] { "Fop.Research", "Fop.Research.Plots" })
        {
            Assert.True(File.Exists(Path.Combine(packed.Feed, $"{id}.{PackedLibrary.Version}.snupkg")), $"{id}: no symbol package");
            using var zip = ZipFile.OpenRead(Path.Combine(packed.Feed, $"{id}.{PackedLibrary.Version}.nupkg"));
            var entries = zip.Entries.Select(e => e.FullName).ToList();
            Assert.Contains("LICENSE", entries);
            Assert.Contains($"lib/net10.0/{id}.xml", entries);
            // The package's own short readme, not the repository's research README.
            using (var readme = new StreamReader(zip.GetEntry("README.md")!.Open()))
            {
                var text = readme.ReadToEnd();
                Assert.Contains("libtorch-cpu-linux-x64", text);
                Assert.True(text.Length < 8000, $"{id}: README.md is {text.Length} characters");
            }
            using var nuspec = zip.Entries.Single(e => e.FullName.EndsWith(".nuspec")).Open();
            var dependencies = XDocument.Load(nuspec).Descendants().Where(e => e.Name.LocalName == "dependency")
                .Select(e => ((string)e.Attribute("id")!, (string)e.Attribute("version")!)).ToList();
            // A stable package may depend only on stable ones (NU5104), and the choice of libtorch is the consumer's.
            Assert.DoesNotContain(dependencies, d => d.Item2.Contains('-'));
            Assert.DoesNotContain(dependencies, d => d.Item1.StartsWith("libtorch", StringComparison.OrdinalIgnoreCase) || d.Item1 is "TorchSharp-cpu" or "TorchSharp-cuda-linux");
            if (id == "Fop.Research")
            {
                Assert.Contains(dependencies, d => d.Item1 == "TorchSharp");
                Assert.Contains("interactive-extensions/dotnet/extension.dib", entries);
            }
        }
    }

    [Fact]
    public void APlainConsoleAppRunsFromThePackedLibrary()
    {
        Assert.True(packed.Pack.ExitCode == 0, packed.Pack.Output);
        File.WriteAllText(Path.Combine(dir, "nuget.config"), $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration><packageSources><add key="fop-research" value="{packed.Feed}" /></packageSources></configuration>
            """);
        File.WriteAllText(Path.Combine(dir, "App.csproj"), $"""
            <Project Sdk="Microsoft.NET.Sdk">
              <PropertyGroup><OutputType>Exe</OutputType><TargetFramework>net10.0</TargetFramework><ImplicitUsings>enable</ImplicitUsings></PropertyGroup>
              <ItemGroup>
                <PackageReference Include="Fop.Research" Version="{PackedLibrary.Version}" />
                <PackageReference Include="libtorch-cpu-linux-x64" Version="2.10.0" />
              </ItemGroup>
            </Project>
            """);
        // No call of ours first: the library's own initializer must make TorchSharp loadable before the model's first tensor.
        File.WriteAllText(Path.Combine(dir, "Program.cs"), """
            using Fop.Research.Models;
            using TorchSharp;
            var model = ModelCatalog.Create("mlp", [1, 28, 28], 10, [16]);
            using var x = torch.randn(4, 1, 28, 28);
            using var y = model.call(x);
            Console.WriteLine($"outputs {string.Join("x", y.shape)}");
            Console.WriteLine($"natives: {Fop.Research.Platform.TorchSharpNatives.Status}");
            """);
        var (code, output) = PackedLibrary.Run("dotnet", ["run", "-c", "Release"], dir);
        Assert.True(code == 0, output);
        Assert.Contains("outputs 4x10", output);
        Assert.Matches("natives: (applied|not needed)", output);
    }
}
