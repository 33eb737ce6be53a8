using MathNet.Numerics.Distributions;
using MathNet.Numerics.Statistics;

namespace Fop.Research.Studies;

/// <summary>A mean with the half-width of its two-sided 95% Student-t interval over <see cref="Count"/> values (NaN half-width below two values).</summary>
public readonly record struct ConfidenceInterval(double Mean, double HalfWidth, int Count)
{
    /// <summary>Lower end of the interval.</summary>
    public double Lower => Mean - HalfWidth;
    /// <summary>Upper end of the interval.</summary>
    public double Upper => Mean + HalfWidth;
    /// <summary>Whether the interval excludes <paramref name="value"/> (false when it is undefined).</summary>
    public bool Excludes(double value) => !double.IsNaN(HalfWidth) && (value < Lower || value > Upper);

    /// <summary>The 0.975 quantile of Student's t with <paramref name="df"/> degrees of freedom (MathNet.Numerics).</summary>
    public static double TQuantile975(int df)
    {
        if (df < 1) throw new ArgumentOutOfRangeException(nameof(df), df, "degrees of freedom must be at least 1.");
        return StudentT.InvCDF(0, 1, df, 0.975);
    }

    /// <summary>Mean and 95% interval of the finite values in <paramref name="values"/>.</summary>
    public static ConfidenceInterval Of(IEnumerable<double> values)
    {
        var v = values.Where(double.IsFinite).ToList();
        if (v.Count == 0) return new(double.NaN, double.NaN, 0);
        double mean = v.Average();
        if (v.Count < 2) return new(mean, double.NaN, 1);
        double sd = v.StandardDeviation();
        return new(mean, TQuantile975(v.Count - 1) * sd / Math.Sqrt(v.Count), v.Count);
    }

    /// <summary>"mean ± half-width" in <paramref name="format"/>, "mean (n=1)" for one value, "-" for none.</summary>
    public string ToString(string format)
    {
        string F(double x, string f) => x.ToString(f, System.Globalization.CultureInfo.InvariantCulture);
        // A signed format (e.g. "+0.#;-0.#;0") signs the mean only: the half-width is a size.
        var unsigned = format.Split(';')[0].Replace("+", "");
        return Count switch { 0 => "-", 1 => F(Mean, format) + " (n=1)", _ => $"{F(Mean, format)} ± {F(HalfWidth, unsigned)}" };
    }

    /// <inheritdoc />
    public override string ToString() => ToString("g4");
}
