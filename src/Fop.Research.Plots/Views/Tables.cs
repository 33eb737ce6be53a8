using System.Globalization;
using MathNet.Numerics.Statistics;
using Microsoft.Data.Analysis;

namespace Fop.Research.Plots.Views;

/// <summary>Tables to look at in a notebook as DataFrames (Microsoft.Data.Analysis): a study's CSV with typed columns, grouped statistics. Figures read whole columns through <see cref="Fop.Research.Io.CsvColumns"/>.</summary>
public static class Tables
{
    /// <summary>Loads a CSV; columns named in <paramref name="types"/> get that type, every other column is a string.</summary>
    public static DataFrame Load(string path, IReadOnlyDictionary<string, Type>? types = null)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: not found.", path);
        var header = File.ReadLines(path).FirstOrDefault() ?? throw new InvalidDataException($"{path}: empty, expected a CSV header.");
        var names = header.Split(',');
        var dataTypes = names.Select(n => types is not null && types.TryGetValue(n, out var t) ? t : typeof(string)).ToArray();
        try { return DataFrame.LoadCsv(path, dataTypes: dataTypes, cultureInfo: CultureInfo.InvariantCulture); }
        catch (Exception e) when (e is FormatException or ArgumentException or IndexOutOfRangeException)
        {
            throw new InvalidDataException($"{path}: not a valid table ({e.Message}).", e);
        }
    }

    /// <summary>
    /// Groups rows by the key columns (groups in order of first appearance) and gives, per group, the number of rows
    /// ("runs") and the mean and sample standard deviation of each value column over its finite entries
    /// ("{column}_mean", "{column}_std"; NaN where a group has no finite entry, std 0 for a single one).
    /// </summary>
    public static DataFrame GroupStats(DataFrame df, IReadOnlyList<string> keys, IReadOnlyList<string> values)
    {
        foreach (var c in keys.Concat(values))
            if (df.Columns.IndexOf(c) < 0) throw new ArgumentException($"no column '{c}' (columns: {string.Join(", ", df.Columns.Select(x => x.Name))}).");
        var keyValues = keys.Select(k => df.Columns[k].Cast<object?>().ToArray()).ToArray();
        var groups = Enumerable.Range(0, (int)df.Rows.Count)
            .GroupBy(i => string.Join("\u001f", keyValues.Select(k => Convert.ToString(k[i], CultureInfo.InvariantCulture))))
            .Select(g => g.ToArray()).ToList();
        var columns = new List<DataFrameColumn>();
        for (int k = 0; k < keys.Count; k++)
        {
            var first = groups.Select(g => keyValues[k][g[0]]).ToList();
            columns.Add(df.Columns[keys[k]] switch
            {
                Int32DataFrameColumn => new Int32DataFrameColumn(keys[k], first.Select(v => (int?)v)),
                PrimitiveDataFrameColumn<double> => new DoubleDataFrameColumn(keys[k], first.Select(v => (double?)v)),
                _ => new StringDataFrameColumn(keys[k], first.Select(v => Convert.ToString(v, CultureInfo.InvariantCulture))),
            });
        }
        columns.Add(new Int32DataFrameColumn("runs", groups.Select(g => g.Length)));
        foreach (var v in values)
        {
            var all = Doubles(df, v);
            var stats = groups.Select(g => MeanStd(g.Select(i => all[i]).Where(double.IsFinite).ToArray())).ToList();
            columns.Add(new DoubleDataFrameColumn($"{v}_mean", stats.Select(s => s.Mean)));
            columns.Add(new DoubleDataFrameColumn($"{v}_std", stats.Select(s => s.Std)));
        }
        return new DataFrame(columns);
    }

    /// <summary>Mean and sample standard deviation (0 for one value; NaN, NaN for none).</summary>
    public static (double Mean, double Std) MeanStd(IReadOnlyList<double> v)
    {
        if (v.Count == 0) return (double.NaN, double.NaN);
        return (v.Average(), v.Count > 1 ? v.StandardDeviation() : 0);
    }

    /// <summary>A table cell as text: numbers to <paramref name="format"/> (invariant culture), missing values and NaN blank.</summary>
    public static string FormatCell(object? value, string format = "g5") => value switch
    {
        null => "",
        double d when double.IsNaN(d) => "",
        double d => d.ToString(double.IsFinite(d) ? format : null, CultureInfo.InvariantCulture),
        float f => f.ToString(format, CultureInfo.InvariantCulture),
        IFormattable x => x.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString() ?? "",
    };

    /// <summary>A column as doubles (NaN where missing).</summary>
    public static double[] Doubles(DataFrame df, string column) =>
        df.Columns.IndexOf(column) < 0 ? Enumerable.Repeat(double.NaN, (int)df.Rows.Count).ToArray()
            : df.Columns[column].Cast<object?>().Select(v => v is null ? double.NaN : Convert.ToDouble(v, CultureInfo.InvariantCulture)).ToArray();

    /// <summary>A column as strings ("" where missing).</summary>
    public static string[] Strings(DataFrame df, string column) =>
        df.Columns.IndexOf(column) < 0 ? Enumerable.Repeat("", (int)df.Rows.Count).ToArray() : df.Columns[column].Cast<object?>().Select(v => v?.ToString() ?? "").ToArray();
}
