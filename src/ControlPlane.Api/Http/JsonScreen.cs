using System.Text.Json;
using ControlPlane.Domain;

namespace ControlPlane.Api.Http;

/// <summary>
/// What every JSON body must be before any endpoint binds it, checked on the raw bytes: UTF-8
/// without a byte-order mark, each key once per object, no control characters in keys or strings,
/// no null array elements (no array of the contract holds one). The binder cannot see repeated keys
/// or null elements, and a NUL in a string fails only when Postgres refuses it.
/// </summary>
public static class JsonScreen
{
    public const int MaxDepth = 16;

    /// <summary>The first thing wrong with the body, with the field (contract naming) it is in; null when it may be bound.</summary>
    public static Violation? Check(ReadOnlySpan<byte> body)
    {
        if (body.StartsWith("\uFEFF"u8))
            return Invalid("body", "The body must not start with a byte-order mark.");
        if (!System.Text.Unicode.Utf8.IsValid(body))
            return Invalid("body", "The body must be UTF-8.");
        var reader = new Utf8JsonReader(body, new JsonReaderOptions { MaxDepth = MaxDepth });
        // One frame per open object or array: its path, the keys seen (objects) or the next index (arrays).
        var frames = new Stack<Frame>();
        var property = "";
        try
        {
            while (reader.Read())
            {
                var here = frames.Count == 0 ? "" : frames.Peek().IsArray ? frames.Peek().NextElement() : property;
                switch (reader.TokenType)
                {
                    case JsonTokenType.StartObject:
                        frames.Push(new Frame(here, IsArray: false));
                        break;
                    case JsonTokenType.StartArray:
                        frames.Push(new Frame(here, IsArray: true));
                        break;
                    case JsonTokenType.EndObject or JsonTokenType.EndArray:
                        frames.Pop();
                        break;
                    case JsonTokenType.PropertyName:
                        var name = reader.GetString()!;
                        var frame = frames.Peek();
                        property = frame.Path.Length == 0 ? name : $"{frame.Path}.{name}";
                        if (HasControlCharacter(name))
                            return Invalid(frame.Path.Length == 0 ? "body" : frame.Path, "Field names must not contain control characters.");
                        if (!frame.Keys.Add(name))
                            return Invalid(property, $"{property} is given more than once.");
                        break;
                    case JsonTokenType.String when HasControlCharacter(reader.GetString()!):
                        return Invalid(Field(here), $"{Field(here)} must not contain control characters (such as NUL, tab or newline).");
                    case JsonTokenType.Null when frames.TryPeek(out var array) && array.IsArray:
                        return Invalid(Field(here), $"{array.Path} must not contain null elements.");
                }
            }
        }
        catch (JsonException)
        {
            return Invalid("body", "The body is not valid JSON.");
        }
        catch (InvalidOperationException)
        {
            // A string with an escaped lone surrogate ("\ud800") has no text to give.
            return Invalid(Field(property), "The body holds a string that is not valid Unicode.");
        }
        return null;
    }

    /// <summary>C0 and C1 controls and DEL, a BOM inside text, U+FFFD (what undecodable bytes became) and lone surrogates.</summary>
    public static bool HasControlCharacter(string text)
    {
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (char.IsControl(c) || c is '\uFEFF' or '\uFFFD' || char.IsLowSurrogate(c))
                return true;
            if (char.IsHighSurrogate(c) && !(i + 1 < text.Length && char.IsLowSurrogate(text[++i])))
                return true;
        }
        return false;
    }

    private static string Field(string path) => path.Length == 0 ? "body" : path;

    private static Violation Invalid(string field, string message) => new(ErrorCodes.InvalidParameterValue, field, message);

    private sealed record Frame(string Path, bool IsArray)
    {
        private int _next;
        public HashSet<string> Keys { get; } = new(StringComparer.Ordinal);
        public string NextElement() => $"{Path}[{_next++}]";
    }
}
