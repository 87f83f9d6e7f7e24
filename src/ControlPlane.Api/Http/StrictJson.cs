using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.RegularExpressions;

namespace ControlPlane.Api.Http;

/// <summary>A value the contract refuses, with the reason a client can act on; the field comes from the JSON path.</summary>
public sealed class ContractJsonException(string reason) : JsonException(reason)
{
    public string Reason { get; } = reason;
}

/// <summary>
/// Enum values exactly as the contract spells them ("disabled", "cross-az"): System.Text.Json's own
/// converter also takes "Disabled", "DISABLED" and "1, 2" (flags syntax), which the contract refuses.
/// </summary>
public sealed class ExactEnumConverter : JsonConverterFactory
{
    public override bool CanConvert(Type typeToConvert) => typeToConvert.IsEnum;

    public override JsonConverter CreateConverter(Type typeToConvert, JsonSerializerOptions options) =>
        (JsonConverter)Activator.CreateInstance(typeof(Exact<>).MakeGenericType(typeToConvert))!;

    private sealed class Exact<T> : JsonConverter<T> where T : struct, Enum
    {
        private static readonly Dictionary<string, T> ByText = Enum.GetValues<T>().ToDictionary(v => JsonBodies.EnumText(v), v => v, StringComparer.Ordinal);

        public override T Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
            reader.TokenType == JsonTokenType.String && ByText.TryGetValue(reader.GetString()!, out var value)
                ? value
                : throw new ContractJsonException($"must be one of {string.Join(", ", ByText.Keys)}.");

        public override void Write(Utf8JsonWriter writer, T value, JsonSerializerOptions options) =>
            writer.WriteStringValue(JsonBodies.EnumText(value));
    }
}

/// <summary>Times as RFC 3339 date-times (a date alone is not one); any offset is converted to UTC, which is how they are stored.</summary>
public sealed partial class Rfc3339Converter : JsonConverter<DateTimeOffset>
{
    [GeneratedRegex(@"^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,7})?([Zz]|[+-][0-9]{2}:[0-9]{2})\z")]
    private static partial Regex Shape();

    public static bool TryParse(string? text, out DateTimeOffset value)
    {
        value = default;
        if (text is null || !Shape().IsMatch(text)
            || !DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.None, out var parsed))
            return false;
        value = parsed.ToUniversalTime();
        return true;
    }

    public const string Expected = "must be an RFC 3339 date-time such as 2030-01-31T12:00:00Z.";

    public override DateTimeOffset Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
        reader.TokenType == JsonTokenType.String && TryParse(reader.GetString(), out var value) ? value : throw new ContractJsonException(Expected);

    public override void Write(Utf8JsonWriter writer, DateTimeOffset value, JsonSerializerOptions options) => writer.WriteStringValue(value);
}
