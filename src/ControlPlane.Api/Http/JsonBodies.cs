using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using ControlPlane.Domain;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.Extensions.Options;

namespace ControlPlane.Api.Http;

/// <summary>The JSON conventions of the contract, and reading a merge patch while knowing which fields it names.</summary>
public sealed class JsonBodies(IOptions<JsonOptions> options)
{
    public static void Configure(JsonSerializerOptions json)
    {
        json.PropertyNamingPolicy = JsonNamingPolicy.CamelCase;
        // Exactly the JSON the contract describes: ASP.NET Core's web defaults would also take numbers
        // in strings, "ID" for "id", "Disabled" for "disabled", a repeated key (the last one winning)
        // and a date without a time.
        json.Converters.Add(new ExactEnumConverter());
        json.Converters.Add(new Rfc3339Converter());
        json.NumberHandling = JsonNumberHandling.Strict;
        json.PropertyNameCaseInsensitive = false;
        json.AllowDuplicateProperties = false;
        json.UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow;
        json.RespectNullableAnnotations = true;
        json.RespectRequiredConstructorParameters = true;
    }

    public static string EnumText<T>(T value) where T : struct, Enum => JsonNamingPolicy.KebabCaseLower.ConvertName(value.ToString());

    /// <summary>Reads an enum as it is written in JSON ("replication-group"), for query strings.</summary>
    public static bool TryParseEnum<T>(string text, out T value) where T : struct, Enum
    {
        foreach (var candidate in Enum.GetValues<T>())
            if (EnumText(candidate) == text)
            {
                value = candidate;
                return true;
            }
        value = default;
        return false;
    }

    /// <summary>
    /// Reads a JSON merge patch. A field that exists but cannot be patched is InvalidParameterCombination;
    /// a field the resource does not have is InvalidParameterValue; null clears only the optional fields.
    /// </summary>
    public async Task<(HashSet<string> Fields, T? Patch, IResult? Problem)> ReadPatchAsync<T>(
        HttpRequest request, IReadOnlySet<string> patchable, IReadOnlySet<string> createOnly, IReadOnlySet<string> clearable, CancellationToken ct)
        where T : class
    {
        JsonNode? node;
        try
        {
            node = await JsonNode.ParseAsync(request.Body, documentOptions: new JsonDocumentOptions { AllowDuplicateProperties = false }, cancellationToken: ct);
        }
        catch (JsonException)
        {
            return ([], null, Problems.Invalid("body", "The body is not valid JSON."));
        }
        if (node is not JsonObject body)
            return ([], null, Problems.Invalid("body", "The body must be a JSON object (a merge patch)."));
        var fields = body.Select(p => p.Key).ToHashSet();
        var violations = new List<Violation>();
        foreach (var field in fields.Where(f => !patchable.Contains(f)))
            violations.Add(createOnly.Contains(field)
                ? new Violation(ErrorCodes.InvalidParameterCombination, field, $"{field} cannot be modified.")
                : new Violation(ErrorCodes.InvalidParameterValue, field, $"Unknown field {field}."));
        foreach (var field in fields.Where(f => patchable.Contains(f) && body[f] is null && !clearable.Contains(f)))
            violations.Add(new Violation(ErrorCodes.InvalidParameterValue, field, $"{field} cannot be removed; give a value."));
        if (violations.Count > 0)
            return (fields, null, Problems.Validation(violations));
        if (fields.Count == 0)
            return (fields, null, Problems.NoOperation("The modification changes nothing."));
        try
        {
            return (fields, body.Deserialize<T>(options.Value.SerializerOptions), null);
        }
        catch (JsonException e)
        {
            return (fields, null, ApiExceptionHandler.BadJson(e));
        }
    }
}
