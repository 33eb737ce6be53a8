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
        var rows = resume && File.Exists(path) ? ResumedRows(path, header, keep) : [];
        AtomicFile.WriteAllLines(path, rows.Prepend(header));
        try { writer = new StreamWriter(path, append: true); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { throw new IOException($"{path}: could not be opened for writing ({e.Message}).", e); }
    }

    /// <summary>
    /// The rows kept on resume. A log written by an earlier version whose header is a prefix of this one (columns added at
    /// the end since) is carried over with the new columns empty, so upgrading never loses a run's history.
    /// </summary>
    static List<string> ResumedRows(string path, string header, Func<string[], bool> keep)
    {
        string? existing;
        using (var reader = new StreamReader(path)) existing = reader.ReadLine()?.TrimEnd('\r');
        int columns = header.Split(',').Length;
        if (existing is null || existing == header || !header.StartsWith(existing + ",", StringComparison.Ordinal))
            return CompleteRows(path, columns, keep).ToList();
        int missing = columns - existing.Split(',').Length;
        return CompleteRows(path, columns - missing, keep).Select(r => r + new string(',', missing)).ToList();
    }

    /// <summary>The file.</summary>
    public string Path { get; }

    /// <summary>
    /// The data rows of a log: every line but the last must hold <paramref name="columns"/> fields, else the file is
    /// corrupt (an error naming it and the line); the last line is dropped when a kill cut it short (no line end or too
    /// few fields). Rows <paramref name="keep"/> rejects are dropped; a row it cannot parse is corruption too.
    /// </summary>
    public static IEnumerable<string> CompleteRows(string path, int columns, Func<string[], bool>? keep = null)
    {
        var lines = File.ReadAllText(path).Split('\n');
        var rows = new List<string>();
        // The last element is "" when the file ends with a line break, else a row cut short by a kill: never read.
        for (int i = 1; i < lines.Length - 1; i++)
        {
            var line = lines[i].TrimEnd('\r');
            if (line.Length == 0) continue;
            bool lastComplete = i == lines.Length - 2;
            var fields = line.Split(',');
            if (fields.Length != columns)
            {
                if (lastComplete) break;
                throw new InvalidDataException($"{path}: line {i + 1} has {fields.Length} fields, expected {columns} (corrupt log; restore it or delete the run folder).");
            }
            bool kept;
            try { kept = keep?.Invoke(fields) ?? true; }
            catch (Exception e) when (e is FormatException or OverflowException)
            {
                throw new InvalidDataException($"{path}: line {i + 1} cannot be read ({e.Message}; corrupt log).", e);
            }
            if (kept) rows.Add(line);
        }
        return rows;
    }

    /// <summary>Appends one row.</summary>
    public void Append(string row) => Guard(() => writer.WriteLine(row));

    /// <summary>Writes buffered rows to disk.</summary>
    public void Flush() => Guard(writer.Flush);

    /// <summary>A failed write of the log (a full disk, the file-size limit) is an error naming the file.</summary>
    void Guard(Action write)
    {
        try { write(); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException || AtomicFile.IsFileTooLarge(e))
        {
            throw new IOException($"{Path}: could not be written ({AtomicFile.Reason(e)}); the rows before it and the last checkpoint are kept.", e);
        }
    }

    /// <inheritdoc />
    public void Dispose() => Guard(writer.Dispose);
}
