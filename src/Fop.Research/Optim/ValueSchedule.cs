using System.Text.Json;
using System.Text.Json.Serialization;

namespace Fop.Research.Optim;

/// <summary>
/// A hyperparameter that may change with the optimizer step: constant (<see cref="Start"/>), or moving from
/// <see cref="Start"/> to <see cref="End"/> over <see cref="Steps"/> steps, linearly or geometrically, then held.
/// In JSON a plain number is a constant.
/// </summary>
[JsonConverter(typeof(ValueScheduleJsonConverter))]
public sealed record ValueSchedule(double Start, double? End = null, int Steps = 0, string Shape = "exponential")
{
    /// <summary>A constant value.</summary>
    public static implicit operator ValueSchedule(double value) => new(value);

    /// <summary>The value at optimizer step <paramref name="step"/>.</summary>
    public double At(long step)
    {
        if (End is not double end || Steps <= 0) return Start;
        double t = Math.Min(1.0, step / (double)Steps);
        return Shape == "linear" ? Start + (end - Start) * t : Start * Math.Pow(end / Start, t);
    }

    /// <summary>Throws unless every value the schedule takes lies within [min, max] (exclusive bounds where asked).</summary>
    public void Validate(string name, double min, double max, bool minExclusive = false)
    {
        foreach (var v in End is double e ? new[] { Start, e } : new[] { Start })
        {
            bool ok = double.IsFinite(v) && (minExclusive ? v > min : v >= min) && v <= max;
            if (!ok) throw new ArgumentOutOfRangeException(name, v, $"{name} must lie in {(minExclusive ? "(" : "[")}{min}, {max}], got {v}.");
        }
        if (End is not null && Steps <= 0) throw new ArgumentOutOfRangeException(name, Steps, $"{name}: a schedule with an end value needs steps > 0.");
        if (Shape is not ("linear" or "exponential")) throw new ArgumentException($"{name}: shape must be linear or exponential, got '{Shape}'.");
        if (Shape == "exponential" && End is double end && (Start <= 0 || end <= 0)) throw new ArgumentException($"{name}: an exponential schedule needs positive values.");
    }

    /// <inheritdoc />
    public override string ToString() => End is null ? Start.ToString("g") : $"{Start:g}->{End:g} over {Steps} ({Shape})";
}

/// <summary>Reads a <see cref="ValueSchedule"/> from a number or an object; writes a number when constant.</summary>
public sealed class ValueScheduleJsonConverter : JsonConverter<ValueSchedule>
{
    /// <inheritdoc />
    public override ValueSchedule Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        if (reader.TokenType == JsonTokenType.Number) return new ValueSchedule(reader.GetDouble());
        if (reader.TokenType == JsonTokenType.String && double.TryParse(reader.GetString(), System.Globalization.CultureInfo.InvariantCulture, out var v)) return new ValueSchedule(v);
        using var doc = JsonDocument.ParseValue(ref reader);
        var o = doc.RootElement;
        double Get(string n) => o.TryGetProperty(n, out var p) ? p.GetDouble() : throw new JsonException($"schedule needs '{n}'.");
        return new ValueSchedule(Get("start"),
            o.TryGetProperty("end", out var e) && e.ValueKind != JsonValueKind.Null ? e.GetDouble() : null,
            o.TryGetProperty("steps", out var s) ? s.GetInt32() : 0,
            o.TryGetProperty("shape", out var sh) ? sh.GetString() ?? "exponential" : "exponential");
    }

    /// <inheritdoc />
    public override void Write(Utf8JsonWriter writer, ValueSchedule value, JsonSerializerOptions options)
    {
        if (value.End is null) { writer.WriteNumberValue(value.Start); return; }
        writer.WriteStartObject();
        writer.WriteNumber("start", value.Start);
        writer.WriteNumber("end", value.End.Value);
        writer.WriteNumber("steps", value.Steps);
        writer.WriteString("shape", value.Shape);
        writer.WriteEndObject();
    }
}
