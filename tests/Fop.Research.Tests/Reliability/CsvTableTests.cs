using Fop.Research.Io;

namespace Fop.Research.Tests.Reliability;

/// <summary>Study tables through Sep: free-text cells survive a round trip, and a damaged table is an error naming its file.</summary>
public sealed class CsvTableTests : IDisposable
{
    readonly string dir = Directory.CreateTempSubdirectory("fop-csv-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    [Fact]
    public void CellsWithCommasAndQuotesRoundTripAndPlainOnesStayUnquoted()
    {
        var path = Path.Combine(dir, "results.csv");
        var text = CsvTable.Text(["config", "variant", "seed"], [["b", "KFAC, at FOP's \"rate\"", "1"], ["b", "FOP lr 0.003", "2"]]);
        Assert.Equal("config,variant,seed\nb,\"KFAC, at FOP's \"\"rate\"\"\",1\nb,FOP lr 0.003,2\n", text);
        File.WriteAllText(path, text);
        var rows = CsvTable.Read(path);
        Assert.Equal(["KFAC, at FOP's \"rate\"", "FOP lr 0.003"], rows.Select(r => r["variant"]));
        Assert.Equal("2", rows[1].Cell("seed", path));
        Assert.Contains(path, Assert.Throws<InvalidDataException>(() => rows[0].Cell("lr", path)).Message);
        // No rows: the header alone, read back as no rows.
        File.WriteAllText(path, CsvTable.Text(["config", "variant"], []));
        Assert.Equal("config,variant\n", File.ReadAllText(path));
        Assert.Empty(CsvTable.Read(path));
        Assert.Throws<ArgumentException>(() => CsvTable.Text(["a", "b"], [["1"]]));
    }

    [Fact]
    public void ARowWithTheWrongNumberOfCellsIsAnErrorNamingTheFile()
    {
        var path = Path.Combine(dir, "bad.csv");
        File.WriteAllText(path, "config,variant,seed\nb,FOP,1\nb,FOP\n");
        Assert.Contains(path, Assert.Throws<InvalidDataException>(() => CsvTable.Read(path)).Message);
    }
}
