using System.Globalization;
using Fop.Research.Training;

namespace Fop.Research.Io;

/// <summary>
/// A CSV file as whole columns by name, read through Sep: a run log's complete rows (<see cref="ReadLog"/>) or a study table
/// (<see cref="ReadTable"/>). What figures take; a notebook that wants a table to look at loads a DataFrame instead.
/// </summary>
public sealed class CsvColumns
{
    readonly string path;
    readonly string[] names;
    readonly IReadOnlyList<string[]> rows;

    CsvColumns(string path, string[] names, IReadOnlyList<string[]> rows) => (this.path, this.names, this.rows) = (path, names, rows);

    /// <summary>A run log (metrics, steps, layers, noise, evals): its complete rows, a row a kill cut short left out (<see cref="CsvLog.CompleteRows"/>).</summary>
    public static CsvColumns ReadLog(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: not found.", path);
        var names = CsvLog.Header(path);
        return new CsvColumns(path, names, CsvLog.CompleteRows(path, names.Length));
    }

    /// <summary>A study table (results.csv, tuning.csv) with quoted free text (<see cref="CsvTable.Read"/>).</summary>
    public static CsvColumns ReadTable(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: not found.", path);
        var names = CsvLog.Header(path);
        var rows = CsvTable.Read(path).Select(r => names.Select(n => r[n]).ToArray()).ToList();
        return new CsvColumns(path, names, rows);
    }

    /// <summary>The number of rows.</summary>
    public int Count => rows.Count;

    /// <summary>The column names, in file order.</summary>
    public IReadOnlyList<string> Names => names;

    /// <summary>Whether the file has <paramref name="column"/>.</summary>
    public bool Has(string column) => Array.IndexOf(names, column) >= 0;

    /// <summary>A column as numbers: NaN where a cell is empty, and everywhere when the file lacks the column (an older log); text that is not a number is an error naming the file.</summary>
    public double[] Doubles(string column)
    {
        int i = Array.IndexOf(names, column);
        if (i < 0) return Enumerable.Repeat(double.NaN, rows.Count).ToArray();
        return rows.Select(r => r[i].Length == 0 ? double.NaN
            : double.TryParse(r[i], NumberStyles.Float, CultureInfo.InvariantCulture, out var v) ? v
            : throw new InvalidDataException($"{path}: '{r[i]}' in column '{column}' is not a number.")).ToArray();
    }

    /// <summary>A column as text ("" everywhere when the file lacks the column).</summary>
    public string[] Strings(string column)
    {
        int i = Array.IndexOf(names, column);
        return i < 0 ? Enumerable.Repeat("", rows.Count).ToArray() : rows.Select(r => r[i]).ToArray();
    }
}
