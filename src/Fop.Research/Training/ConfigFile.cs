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
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower) },
    };

    /// <summary>Loads a config file (null: the defaults) and applies overrides in order, then validates.</summary>
    public static RunConfig Load(string? path, IEnumerable<string>? overrides = null)
    {
        RunConfig config;
        if (path is null) config = new RunConfig();
        else
        {
            if (!File.Exists(path)) throw new FileNotFoundException($"{path}: config file not found.", path);
            try { config = JsonSerializer.Deserialize<RunConfig>(File.ReadAllText(path), Json) ?? throw new JsonException("empty config"); }
            catch (JsonException e) { throw new ArgumentException($"{path}: {e.Message}", e); }
        }
        return Override(config, overrides ?? []).Validate();
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
            var parts = key.Split('.');
            JsonObject node = root;
            for (int i = 0; i < parts.Length; i++)
            {
                if (!node.ContainsKey(parts[i]))
                    throw new ArgumentException($"--set {key}: unknown key '{parts[i]}'. Known here: {string.Join(", ", node.Select(p => p.Key))}.");
                if (i == parts.Length - 1) node[parts[i]] = ParseValue(raw);
                else node = node[parts[i]] as JsonObject ?? throw new ArgumentException($"--set {key}: '{parts[i]}' is a value, not a section.");
            }
        }
        try { return root.Deserialize<RunConfig>(Json)!; }
        catch (JsonException e) { throw new ArgumentException($"--set: {e.Message}", e); }
    }

    /// <summary>The number at <c>dotted.key</c> of <paramref name="config"/>; an unknown key or a non-number (a schedule, null) is an error naming the key.</summary>
    public static double GetNumber(RunConfig config, string key)
    {
        JsonNode? node = JsonSerializer.SerializeToNode(config, Json);
        foreach (var part in key.Replace('-', '_').Split('.'))
            node = node is JsonObject o && o.ContainsKey(part) ? o[part] : throw new ArgumentException($"{key}: no such config key.");
        return node is JsonValue v && v.TryGetValue(out double d) ? d : throw new ArgumentException($"{key}: not a single number in this config ({node?.ToJsonString() ?? "null"}).");
    }

    static JsonNode? ParseValue(string raw)
    {
        try { return JsonNode.Parse(raw); }
        catch (JsonException) { return JsonValue.Create(raw); }
    }

    /// <summary>The config as JSON text (what config.json holds).</summary>
    public static string ToJson(RunConfig config) => JsonSerializer.Serialize(config, Json);
}
