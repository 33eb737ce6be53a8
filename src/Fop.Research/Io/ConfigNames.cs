using System.Text.Json;
using System.Text.Json.Serialization;

namespace Fop.Research.Io;

/// <summary>
/// Enum values by the names configs and run records use (snake_case, or the member's <see cref="JsonStringEnumMemberNameAttribute"/>):
/// for JSON, run names and messages alike, and a reader whose error for an unknown name lists the names that exist.
/// </summary>
public sealed class ConfigNames : JsonConverterFactory
{
    static readonly JsonStringEnumConverter Inner = new(JsonNamingPolicy.SnakeCaseLower);
    static readonly JsonSerializerOptions Plain = new() { Converters = { Inner } };

    /// <summary>The name <paramref name="value"/> has in configs and run records.</summary>
    public static string Of<T>(T value) where T : struct, Enum => JsonSerializer.Serialize(value, Plain).Trim('"');

    /// <summary>The value named <paramref name="name"/>; an unknown name is an error listing the names that exist.</summary>
    public static T Parse<T>(string name, string what) where T : struct, Enum =>
        Enum.GetValues<T>().Where(v => Of(v) == name).Select(v => (T?)v).FirstOrDefault()
            ?? throw new ArgumentException($"{what} '{name}' is not one of {string.Join(", ", All<T>())}.");

    /// <summary>Every name of <typeparamref name="T"/>, in declaration order.</summary>
    public static IReadOnlyList<string> All<T>() where T : struct, Enum => Enum.GetValues<T>().Select(Of).ToList();

    /// <inheritdoc />
    public override bool CanConvert(Type typeToConvert) => typeToConvert.IsEnum;

    /// <inheritdoc />
    public override JsonConverter? CreateConverter(Type typeToConvert, JsonSerializerOptions options) =>
        (JsonConverter?)Activator.CreateInstance(typeof(Named<>).MakeGenericType(typeToConvert));

    sealed class Named<T> : JsonConverter<T> where T : struct, Enum
    {
        readonly JsonConverter<T> inner = (JsonConverter<T>)Inner.CreateConverter(typeof(T), Plain)!;

        public override T Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
        {
            var start = reader;
            try { return inner.Read(ref reader, typeToConvert, options); }
            catch (JsonException)
            {
                var given = start.TokenType == JsonTokenType.String ? $"'{start.GetString()}'" : start.TokenType.ToString().ToLowerInvariant();
                throw new JsonException($"{given} is not one of {string.Join(", ", All<T>())}.");
            }
        }

        public override void Write(Utf8JsonWriter writer, T value, JsonSerializerOptions options) => inner.Write(writer, value, options);

        public override T ReadAsPropertyName(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) => inner.ReadAsPropertyName(ref reader, typeToConvert, options);

        public override void WriteAsPropertyName(Utf8JsonWriter writer, T value, JsonSerializerOptions options) => inner.WriteAsPropertyName(writer, value, options);
    }
}
