using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace Fop.Research.Training;

/// <summary>Reads and writes <see cref="RunConfig"/> JSON and applies <c>key=value</c> overrides checked against the record.</summary>
public static class ConfigFile
{
    /// <summary>The JSON conventions of configs: snake_case keys and enum values, comments allowed, unknown keys rejected.</summary>
    public static JsonSerializerOptions Json { get; } = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        WriteIndented = true,
        ReadCommentHandling = JsonCommentHandling.Skip,
        AllowTrailingCommas = true,
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
        // A key written twice is a mistake (which one was meant?), and null where a section or value is required is one too.
        AllowDuplicateProperties = false,
        RespectNullableAnnotations = true,
        Converters = { new Io.ConfigNames() },
    };

    /// <summary>
    /// Loads a config file (null: the defaults) and applies overrides in order, then validates. An invalid value is an
    /// <see cref="ArgumentException"/> of one line that names the file, or <c>--set</c> when an override made it invalid.
    /// </summary>
    public static RunConfig Load(string? path, IEnumerable<string>? overrides = null)
    {
        RunConfig config;
        if (path is null) config = new RunConfig();
        else
        {
            if (!File.Exists(path)) throw new FileNotFoundException($"{path}: config file not found.", path);
            try { config = JsonSerializer.Deserialize<RunConfig>(File.ReadAllText(path), Json) ?? throw new JsonException("empty config"); }
            catch (JsonException e) { throw new ArgumentException($"{path}: {Describe(e)}", e); }
        }
        var list = (overrides ?? []).ToList();
        var merged = Override(config, list);
        try { return merged.Validate(); }
        catch (ArgumentException e)
        {
            // Name where the bad value came from: the file when it is invalid on its own, else the overrides.
            string where = path is null || (list.Count > 0 && IsValid(config)) ? "--set" : path;
            var text = $"{where}: {Describe(e)}";
            throw e is ArgumentOutOfRangeException ? new ArgumentOutOfRangeException(text, e) : new ArgumentException(text, e);
        }
    }

    static bool IsValid(RunConfig config)
    {
        try { config.Validate(); return true; }
        catch (ArgumentException) { return false; }
    }

    /// <summary>
    /// An argument error as one line: the message without .NET's "(Parameter 'X')" and "Actual value was" lines, with the
    /// offending value appended where the exception carries it.
    /// </summary>
    public static string Describe(ArgumentException e)
    {
        var text = e.Message;
        if (e.ParamName is { } name && text.IndexOf($" (Parameter '{name}')", StringComparison.Ordinal) is int at and >= 0) text = text[..at];
        text = text.ReplaceLineEndings(" ").Trim();
        if (e is ArgumentOutOfRangeException { ActualValue: { } value })
            text = $"{text.TrimEnd('.')}, not {Convert.ToString(value, System.Globalization.CultureInfo.InvariantCulture)}.";
        return text;
    }

    /// <summary>A JSON error as one line: what is wrong and where (the JSON path), without .NET's advice to change annotations.</summary>
    public static string Describe(JsonException e, bool withLine = true)
    {
        var text = e.Message;
        if (e.Path is { Length: > 2 } nullAt && text.Contains("doesn't allow setting null values", StringComparison.Ordinal))
            return $"{nullAt[2..]} must not be null (a value or section is required here){(withLine && e.LineNumber is long l ? $" (line {l + 1})" : "")}.";
        foreach (var cut in new[] { " Consider ", " Path: ", " LineNumber:" })
            if (text.IndexOf(cut, StringComparison.Ordinal) is int at and > 0) text = text[..at];
        text = text.ReplaceLineEndings(" ").Trim();
        return e.Path is { Length: > 1 } jsonPath ? $"{text} (at {jsonPath}{(withLine && e.LineNumber is long line ? $", line {line + 1}" : "")})" : text;
    }

    /// <summary>Applies <c>dotted.key=value</c> overrides; a key that the record does not have is an error listing the keys that exist.</summary>
    public static RunConfig Override(RunConfig config, IEnumerable<string> overrides)
    {
        var list = overrides.ToList();
        if (list.Count == 0) return config;
        var root = JsonSerializer.SerializeToNode(config, Json)!.AsObject();
        foreach (var item in list)
        {
            int eq = item.IndexOf('=');
            if (eq <= 0) throw new ArgumentException($"--set '{item}': expected key=value.");
            var key = item[..eq].Trim().Replace('-', '_');
            var raw = item[(eq + 1)..].Trim();
            if (raw.Length == 0) throw new ArgumentException($"--set {key}=: no value (write null for 'none' where the key allows it).");
            var parts = key.Split('.');
            JsonObject node = root;
            for (int i = 0; i < parts.Length; i++)
            {
                if (!node.ContainsKey(parts[i]))
                    throw new ArgumentException($"--set {key}: unknown key '{parts[i]}'. Known here: {string.Join(", ", node.Select(p => p.Key))}.");
                if (i == parts.Length - 1) node[parts[i]] = ParseValue(raw, node[parts[i]]);
                else node = node[parts[i]] as JsonObject ?? throw new ArgumentException($"--set {key}: '{parts[i]}' is a value, not a section.");
            }
        }
        try { return root.Deserialize<RunConfig>(Json)!; }
        catch (JsonException e) { throw new ArgumentException($"--set: {Describe(e, withLine: false)}", e); }
    }

    /// <summary>The number at <c>dotted.key</c> of <paramref name="config"/>; an unknown key or a non-number (a schedule, null) is an error naming the key.</summary>
    public static double GetNumber(RunConfig config, string key)
    {
        JsonNode? node = JsonSerializer.SerializeToNode(config, Json);
        foreach (var part in key.Replace('-', '_').Split('.'))
            node = node is JsonObject o && o.ContainsKey(part) ? o[part] : throw new ArgumentException($"{key}: no such config key.");
        return node is JsonValue v && v.TryGetValue(out double d) ? d : throw new ArgumentException($"{key}: not a single number in this config ({node?.ToJsonString() ?? "null"}).");
    }

    /// <summary>A value as JSON; where the key holds text now, a bare number or word stays text (<c>name=512</c> is the name "512").</summary>
    static JsonNode? ParseValue(string raw, JsonNode? current)
    {
        JsonNode? parsed;
        try { parsed = JsonNode.Parse(raw); }
        catch (JsonException) { return JsonValue.Create(raw); }
        bool holdsText = current is JsonValue v && v.GetValueKind() == JsonValueKind.String;
        return holdsText && parsed is JsonValue { } p && p.GetValueKind() is JsonValueKind.Number or JsonValueKind.True or JsonValueKind.False ? JsonValue.Create(raw) : parsed;
    }

    /// <summary>The config as JSON text (what config.json holds).</summary>
    public static string ToJson(RunConfig config) => JsonSerializer.Serialize(config, Json);
}
