namespace Fop.Research.Training;

/// <summary>An append-only CSV file; on resume it keeps only the rows recorded before the checkpoint.</summary>
public sealed class CsvLog : IDisposable
{
    readonly StreamWriter writer;

    /// <summary>Opens (or creates) <paramref name="path"/>; with <paramref name="resume"/>, rows failing <paramref name="keep"/> are dropped.</summary>
    public CsvLog(string path, string header, bool resume, Func<string[], bool> keep)
    {
        var rows = new List<string>();
        if (resume && File.Exists(path))
            rows.AddRange(File.ReadLines(path).Skip(1).Where(l => l.Length > 0 && keep(l.Split(','))));
        writer = new StreamWriter(path, append: false);
        writer.WriteLine(header);
        foreach (var r in rows) writer.WriteLine(r);
        writer.Flush();
    }

    /// <summary>Appends one row.</summary>
    public void Append(string row) => writer.WriteLine(row);

    /// <summary>Writes buffered rows to disk.</summary>
    public void Flush() => writer.Flush();

    /// <inheritdoc />
    public void Dispose() => writer.Dispose();
}
