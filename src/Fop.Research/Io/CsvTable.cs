using nietras.SeparatedValues;

namespace Fop.Research.Io;

/// <summary>
/// Tables with free text in their cells (a study's results.csv and tuning.csv, whose variant labels are the user's) read
/// and written through Sep: RFC 4180 quoting on write and unquoting on read, columns found by name. The per-step logs a
/// run appends as it trains stay with <see cref="Training.CsvLog"/>, whose rows are numbers and whose last line a kill
/// may cut short.
/// </summary>
public static class CsvTable
{
    /// <summary>The text of a table: <paramref name="header"/>, then one line per row (cells in header order, quoted where they must be).</summary>
    public static string Text(IReadOnlyList<string> header, IEnumerable<IReadOnlyList<string>> rows)
    {
        using var writer = Sep.New(',').Writer(o => o with { Escape = true }).ToText();
        int count = 0;
        foreach (var cells in rows)
        {
            if (cells.Count != header.Count) throw new ArgumentException($"a row has {cells.Count} cells for {header.Count} columns ({string.Join(",", header)}).");
            using var row = writer.NewRow();
            for (int i = 0; i < header.Count; i++) row[header[i]].Set(cells[i]);
            count++;
        }
        // Sep writes the header with the first row: a table without rows is its header alone.
        return count == 0 ? string.Join(",", header) + "\n" : writer.ToString();
    }

    /// <summary>The rows of the table at <paramref name="path"/> as column name -> cell (an empty file: none); a malformed file is an error naming it.</summary>
    public static IReadOnlyList<IReadOnlyDictionary<string, string>> Read(string path)
    {
        if (new FileInfo(path).Length == 0) return [];
        try
        {
            using var reader = Sep.Reader(o => o with { Unescape = true }).FromFile(path);
            var names = reader.Header.ColNames;
            var rows = new List<IReadOnlyDictionary<string, string>>();
            foreach (var row in reader)
            {
                if (row.ColCount == 1 && row[0].Span.Length == 0) continue;      // a blank line
                if (row.ColCount != names.Count) throw new InvalidDataException($"line {row.LineNumberFrom} has {row.ColCount} cells for {names.Count} columns");
                var cells = new Dictionary<string, string>(names.Count);
                for (int i = 0; i < names.Count; i++) cells[names[i]] = row[i].ToString();
                rows.Add(cells);
            }
            return rows;
        }
        catch (Exception e) when (e is InvalidDataException or FormatException or ArgumentException or NotSupportedException)
        {
            throw new InvalidDataException($"{path}: not a readable CSV table ({e.Message}).", e);
        }
    }

    /// <summary>The cell of <paramref name="column"/>, or an error naming the file when the table has no such column.</summary>
    public static string Cell(this IReadOnlyDictionary<string, string> row, string column, string path) =>
        row.TryGetValue(column, out var v) ? v : throw new InvalidDataException($"{path}: no '{column}' column.");
}
