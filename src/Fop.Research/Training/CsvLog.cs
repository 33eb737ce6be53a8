using Fop.Research.Io;
using nietras.SeparatedValues;

namespace Fop.Research.Training;

/// <summary>
/// An append-only CSV file (a run's metrics, steps, layers, noise and evals logs), written and read through Sep with RFC 4180
/// quoting. On resume it keeps only the complete rows recorded before the checkpoint: a row cut short by a kill (no line end,
/// or the wrong number of fields) and rows past the checkpoint are dropped, and the kept rows are rewritten atomically before
/// anything new is appended.
/// </summary>
public sealed class CsvLog : IDisposable
{
    readonly StreamWriter stream;
    readonly SepWriter writer;
    readonly string[] columns;

    /// <summary>Opens (or creates) <paramref name="path"/> with the columns of <paramref name="header"/>; with <paramref name="resume"/>, rows failing <paramref name="keep"/> are dropped.</summary>
    public CsvLog(string path, string header, bool resume, Func<string[], bool> keep)
    {
        Path = path;
        columns = header.Split(',');
        var rows = resume && File.Exists(path) ? ResumedRows(path, columns, keep) : [];
        AtomicFile.WriteAllText(path, CsvTable.Text(columns, rows));
        try { stream = new StreamWriter(path, append: true); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { throw new IOException($"{path}: could not be opened for writing ({e.Message}).", e); }
        writer = Sep.New(',').Writer(o => o with { WriteHeader = false, Escape = true }).To(stream, leaveOpen: true);
    }

    /// <summary>
    /// The rows kept on resume. A log written by an earlier version whose header is a prefix of this one (columns added at
    /// the end since) is carried over with the new columns empty, so upgrading never loses a run's history.
    /// </summary>
    static List<string[]> ResumedRows(string path, string[] columns, Func<string[], bool> keep)
    {
        var existing = Header(path);
        bool prefix = existing.Length > 0 && existing.Length < columns.Length && columns.Take(existing.Length).SequenceEqual(existing);
        if (!prefix) return CompleteRows(path, columns.Length, keep).ToList();
        return CompleteRows(path, existing.Length, keep).Select(r => r.Concat(Enumerable.Repeat("", columns.Length - existing.Length)).ToArray()).ToList();
    }

    /// <summary>The column names of the log at <paramref name="path"/> (none for an empty file).</summary>
    public static string[] Header(string path)
    {
        string? line;
        using (var reader = new StreamReader(path)) line = reader.ReadLine();
        if (string.IsNullOrEmpty(line)) return [];
        using var sep = Sep.Reader(o => o with { HasHeader = false, Unescape = true }).FromText(line);
        if (!sep.MoveNext()) return [];
        var row = sep.Current;
        var names = new string[row.ColCount];
        for (int i = 0; i < names.Length; i++) names[i] = row[i].ToString().TrimEnd('\r');
        return names;
    }

    /// <summary>The file.</summary>
    public string Path { get; }

    /// <summary>
    /// The data rows of a log as cells: every row but the last must hold <paramref name="columns"/> fields, else the file is
    /// corrupt (an error naming it and the line); the last row is dropped when a kill cut it short (no line end or too
    /// few fields). Rows <paramref name="keep"/> rejects are dropped; a row it cannot parse is corruption too.
    /// </summary>
    public static IReadOnlyList<string[]> CompleteRows(string path, int columns, Func<string[], bool>? keep = null)
    {
        var text = File.ReadAllText(path);
        // What follows the last line break is a row cut short by a kill: never read.
        int end = text.LastIndexOf('\n');
        if (end < 0) return [];
        var parsed = new List<(int Line, string[] Cells)>();
        try
        {
            using var reader = Sep.Reader(o => o with { HasHeader = false, Unescape = true, DisableColCountCheck = true }).FromText(text[..(end + 1)]);
            foreach (var row in reader)
            {
                if (row.RowIndex == 0) continue;                                        // the header
                if (row.ColCount == 1 && row[0].Span.TrimEnd('\r').Length == 0) continue;  // a blank line
                var cells = new string[row.ColCount];
                for (int i = 0; i < cells.Length; i++) cells[i] = row[i].ToString().TrimEnd('\r');
                parsed.Add((row.RowIndex + 1, cells));                                  // one line per row: no cell holds a line break
            }
        }
        catch (Exception e) when (e is InvalidDataException or FormatException or ArgumentException or NotSupportedException)
        {
            throw new InvalidDataException($"{path}: not a readable CSV log ({e.Message}; corrupt log).", e);
        }
        var rows = new List<string[]>();
        for (int i = 0; i < parsed.Count; i++)
        {
            var (line, cells) = parsed[i];
            if (cells.Length != columns)
            {
                if (i == parsed.Count - 1) break;
                throw new InvalidDataException($"{path}: line {line} has {cells.Length} fields, expected {columns} (corrupt log; restore it or delete the run folder).");
            }
            bool kept;
            try { kept = keep?.Invoke(cells) ?? true; }
            catch (Exception e) when (e is FormatException or OverflowException)
            {
                throw new InvalidDataException($"{path}: line {line} cannot be read ({e.Message}; corrupt log).", e);
            }
            if (kept) rows.Add(cells);
        }
        return rows;
    }

    /// <summary>Appends one row, its cells in the order of the header (quoted where they must be).</summary>
    public void Append(IReadOnlyList<string> cells)
    {
        if (cells.Count != columns.Length) throw new ArgumentException($"{Path}: a row of {cells.Count} cells for {columns.Length} columns ({string.Join(",", columns)}).");
        Guard(() =>
        {
            using var row = writer.NewRow();
            for (int i = 0; i < columns.Length; i++) row[columns[i]].Set(cells[i]);
        });
    }

    /// <summary>Writes buffered rows to disk.</summary>
    public void Flush() => Guard(() => { writer.Flush(); stream.Flush(); });

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
    public void Dispose() => Guard(() => { writer.Dispose(); stream.Dispose(); });
}
