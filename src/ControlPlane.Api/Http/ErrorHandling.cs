using System.Text.Json;
using System.Text.RegularExpressions;
using ControlPlane.Api.Data;
using ControlPlane.Domain;
using Microsoft.AspNetCore.Diagnostics;
using Npgsql;

namespace ControlPlane.Api.Http;

/// <summary>
/// Turns what escapes a handler into the contract's problem details: a request the framework could
/// not read is 4xx with the field it names, an unreachable database is 503 (also when the failure
/// surfaced as something else while the database was going away), anything else is 500 without a
/// stack trace.
/// </summary>
public sealed partial class ApiExceptionHandler(ILogger<ApiExceptionHandler> logger, IConfiguration configuration) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext context, Exception exception, CancellationToken cancellationToken)
    {
        if (exception is OperationCanceledException && context.RequestAborted.IsCancellationRequested)
            return true; // The client went away; there is no one to answer.
        var result = exception switch
        {
            BadHttpRequestException { InnerException: JsonException json } => BadJson(json),
            BadHttpRequestException bad => BadRequest(bad),
            _ when IsDatabaseUnreachable(exception) => DatabaseDown(exception),
            _ when !await CanReachDatabaseAsync(cancellationToken) => DatabaseDown(exception),
            _ => Unexpected(exception),
        };
        await result.ExecuteAsync(context);
        return true;
    }

    /// <summary>True when the failure is the connection to Postgres, not a statement Postgres refused.</summary>
    public static bool IsDatabaseUnreachable(Exception exception)
    {
        for (var e = exception; e is not null; e = e.InnerException)
        {
            switch (e)
            {
                case PostgresException pg when pg.SqlState.StartsWith("08", StringComparison.Ordinal) || pg.SqlState.StartsWith("57P", StringComparison.Ordinal):
                case NpgsqlException and not PostgresException:
                case System.Net.Sockets.SocketException:
                case TimeoutException:
                    return true;
            }
        }
        return false;
    }

    /// <summary>
    /// A request cut off by a database shutdown can fail with an error that names no connection
    /// ("Transaction is already completed"); a quick fresh connection tells an outage from a bug.
    /// </summary>
    private async Task<bool> CanReachDatabaseAsync(CancellationToken ct)
    {
        var csb = new NpgsqlConnectionStringBuilder(Database.ConnectionString(configuration)) { Timeout = 2, Pooling = false };
        try
        {
            await using var connection = new NpgsqlConnection(csb.ConnectionString);
            await connection.OpenAsync(ct);
            return true;
        }
        catch (Exception e) when (e is NpgsqlException or System.Net.Sockets.SocketException or TimeoutException or InvalidOperationException)
        {
            return false;
        }
    }

    private IResult DatabaseDown(Exception exception)
    {
        LogDatabaseUnreachable(logger, exception.GetBaseException().Message);
        // Broken pooled connections would fail the next requests too; start afresh once the database is back.
        NpgsqlConnection.ClearAllPools();
        return Problems.ServiceUnavailable();
    }

    private IResult Unexpected(Exception exception)
    {
        LogUnexpected(logger, exception);
        return Problems.Create(StatusCodes.Status500InternalServerError, ErrorCodes.InternalFailure,
            "The request failed unexpectedly; nothing is known to have been stored.");
    }

    /// <summary>What the framework refused while reading the request: a parameter that does not bind, a body too large or of another type.</summary>
    private static IResult BadRequest(BadHttpRequestException bad)
    {
        if (bad.StatusCode != StatusCodes.Status400BadRequest)
            return Problems.Create(bad.StatusCode, Problems.CodeFor(bad.StatusCode), bad.StatusCode switch
            {
                StatusCodes.Status413PayloadTooLarge => "The body is larger than this service accepts.",
                StatusCodes.Status415UnsupportedMediaType => "Request bodies are JSON: Content-Type application/json.",
                StatusCodes.Status408RequestTimeout => "The body arrived too slowly.",
                _ => "The request could not be read.",
            });
        if (bad.Message.Contains("body", StringComparison.OrdinalIgnoreCase))
            return Problems.Invalid("body", "A JSON object body is required.");
        if (BindFailure().Match(bad.Message) is { Success: true } parameter)
            return Problems.Invalid(parameter.Groups[1].Value, $"{parameter.Groups[1].Value} is malformed or of the wrong type.");
        return Problems.Create(StatusCodes.Status400BadRequest, ErrorCodes.MalformedRequest, "The request could not be read.");
    }

    /// <summary>A body that is JSON but not the contract's: the field from the JSON path, and the reason when we know it.</summary>
    public static IResult BadJson(JsonException json)
    {
        var field = JsonPathToField(json.Path);
        if (MissingProperty().Match(json.Message) is { Success: true } missing)
            return Problems.Invalid(Join(field, missing.Groups[1].Value), $"{Join(field, missing.Groups[1].Value)} is required.");
        var name = field.Length > 0 ? field : "body";
        var message = json switch
        {
            ContractJsonException contract => $"{name} {contract.Reason}",
            _ when json.Message.Contains("could not be mapped", StringComparison.Ordinal) => $"Unknown field {name}.",
            _ when json.Message.Contains("Duplicate", StringComparison.OrdinalIgnoreCase) => $"{name} is given more than once.",
            _ => $"The value of {name} is malformed or of the wrong type.",
        };
        return Problems.Invalid(name, message);
    }

    private static string Join(string path, string property) => path.Length == 0 ? property : $"{path}.{property}";

    /// <summary>"$.shards[1].slots" becomes "shards[1].slots", the contract's field naming.</summary>
    public static string JsonPathToField(string? path) =>
        string.IsNullOrEmpty(path) ? "" : path.TrimStart('$').TrimStart('.').Replace("['", ".").Replace("']", "");

    // Failed to bind parameter "int? limit" from "abc".
    [GeneratedRegex("""parameter "(?:[^"]* )?([A-Za-z0-9_-]+)" """, RegexOptions.None)]
    private static partial Regex BindFailure();

    // JSON deserialization for type '...' was missing required properties including: 'id'.
    [GeneratedRegex("missing required properties including: '([^']+)'")]
    private static partial Regex MissingProperty();

    [LoggerMessage(Level = LogLevel.Warning, Message = "Database unreachable: {Reason}")]
    private static partial void LogDatabaseUnreachable(ILogger logger, string reason);

    [LoggerMessage(Level = LogLevel.Error, Message = "Unhandled failure")]
    private static partial void LogUnexpected(ILogger logger, Exception exception);
}
