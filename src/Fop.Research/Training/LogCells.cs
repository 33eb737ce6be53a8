using System.Globalization;

namespace Fop.Research.Training;

/// <summary>How the run logs write numbers: invariant culture, six significant digits, seconds to the millisecond, a missing value as an empty cell.</summary>
public static class LogCells
{
    /// <summary>An integer.</summary>
    public static string Int(long v) => v.ToString(CultureInfo.InvariantCulture);
    /// <summary>A value to six significant digits (empty when null).</summary>
    public static string G(double? v) => v?.ToString("g6", CultureInfo.InvariantCulture) ?? "";
    /// <summary>A value with <paramref name="decimals"/> decimals (seconds, milliseconds).</summary>
    public static string Fixed(double v, int decimals = 3) => v.ToString("F" + decimals.ToString(CultureInfo.InvariantCulture), CultureInfo.InvariantCulture);
}
