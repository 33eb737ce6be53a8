using Fop.Research.Io;

namespace Fop.Research.Training;

/// <summary>
/// An append-only CSV file. On resume it keeps only the complete rows recorded before the checkpoint: a row cut short by
/// a kill (no line end, or the wrong number of fields) and rows past the checkpoint are dropped, and the kept rows are
/// rewritten atomically before anything new is appended.
/// </summary>
public sealed class CsvLog : IDisposable
{
    readonly StreamWriter writer;

    /// <summary>Opens (or creates) <paramref name="path"/>; with <paramref name="resume"/>, rows failing <paramref name="keep"/> are dropped.</summary>
    public CsvLog(string path, string header, bool resume, Func<string[], bool> keep)
    {
        Path = path;
        var rows = resume && File.Exists(path) ? CompleteRows(path, header.Split(',').Length).Where(r => Keeps(keep, r)).ToList() : [];
        AtomicFile.WriteAllLines(path, rows.Prepend(header));
        try { writer = new StreamWriter(path, append: true); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { throw new IOException($"{path}: could not be opened for writing ({e.Message}).", e); }
    }

    /// <summary>The file.</summary>
    public string Path { get; }

    /// <summary>The data rows of a CSV file that are complete: ended by a line break and holding <paramref name="columns"/> fields.</summary>
    public static IEnumerable<string> CompleteRows(string path, int columns)
    {
        var text = File.ReadAllText(path);
        var lines = text.Split('\n');
        // The last element is "" when the file ends with a line break, else a row cut short by a kill.
        for (int i = 1; i < lines.Length - 1; i++)
        {
            var line = lines[i].TrimEnd('\r');
            if (line.Length > 0 && line.Split(',').Length == columns) yield return line;
        }
    }

    static bool Keeps(Func<string[], bool> keep, string row)
    {
        try { return keep(row.Split(',')); }
        catch (FormatException) { return false; }
        catch (OverflowException) { return false; }
    }

    /// <summary>Appends one row.</summary>
    public void Append(string row) => writer.WriteLine(row);

    /// <summary>Writes buffered rows to disk.</summary>
    public void Flush() => writer.Flush();

    /// <inheritdoc />
    public void Dispose() => writer.Dispose();
}
