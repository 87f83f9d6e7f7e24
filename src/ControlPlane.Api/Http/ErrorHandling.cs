using System.Text.Json;
using ControlPlane.Domain;
using Microsoft.AspNetCore.Diagnostics;
using Npgsql;

namespace ControlPlane.Api.Http;

/// <summary>
/// Turns what escapes a handler into the contract's problem details: a body that does not bind is
/// 400, an unreachable database is 503, anything else is 500 without a stack trace.
/// </summary>
public sealed partial class ApiExceptionHandler(ILogger<ApiExceptionHandler> logger) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext context, Exception exception, CancellationToken cancellationToken)
    {
        var result = exception switch
        {
            BadHttpRequestException { InnerException: JsonException json } => BadJson(json),
            BadHttpRequestException bad => Problems.Create(StatusCodes.Status400BadRequest, ErrorCodes.InvalidParameterValue, bad.Message),
            _ when IsDatabaseUnreachable(exception) => DatabaseDown(exception),
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
        return Problems.Create(StatusCodes.Status500InternalServerError, "InternalFailure", "The request failed unexpectedly; nothing is known to have been stored.");
    }

    private static IResult BadJson(JsonException json)
    {
        var field = JsonPathToField(json.Path);
        var message = json.Message.Contains("could not be mapped", StringComparison.Ordinal)
            ? $"Unknown field {field}."
            : $"The value of {(field.Length > 0 ? field : "the body")} is malformed or of the wrong type.";
        return Problems.Invalid(field.Length > 0 ? field : "body", message);
    }

    /// <summary>"$.shards[1].slots" becomes "shards[1].slots", the contract's field naming.</summary>
    public static string JsonPathToField(string? path) =>
        string.IsNullOrEmpty(path) ? "" : path.TrimStart('$').TrimStart('.').Replace("['", ".").Replace("']", "");

    [LoggerMessage(Level = LogLevel.Warning, Message = "Database unreachable: {Reason}")]
    private static partial void LogDatabaseUnreachable(ILogger logger, string reason);

    [LoggerMessage(Level = LogLevel.Error, Message = "Unhandled failure")]
    private static partial void LogUnexpected(ILogger logger, Exception exception);
}
