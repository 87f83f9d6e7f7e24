using ControlPlane.Domain;
using Microsoft.AspNetCore.Http.HttpResults;

namespace ControlPlane.Api.Http;

/// <summary>The one problem-details policy: every error carries the contract's <c>code</c>.</summary>
public static class Problems
{
    public static ProblemHttpResult Create(int status, string code, string detail, IDictionary<string, string[]>? errors = null)
    {
        var extensions = new Dictionary<string, object?> { ["code"] = code };
        if (errors is not null)
            extensions["errors"] = errors;
        return TypedResults.Problem(detail: detail, statusCode: status, title: Title(code), extensions: extensions);
    }

    public static ProblemHttpResult Validation(IReadOnlyList<Violation> violations)
    {
        var errors = violations.GroupBy(v => v.Field).ToDictionary(g => g.Key, g => g.Select(v => v.Message).ToArray());
        return Create(StatusCodes.Status400BadRequest, violations[0].Code, violations[0].Message, errors);
    }

    public static ProblemHttpResult Invalid(string field, string message, string code = ErrorCodes.InvalidParameterValue) =>
        Validation([new Violation(code, field, message)]);

    public static ProblemHttpResult NotFound(string code, string detail) => Create(StatusCodes.Status404NotFound, code, detail);

    public static ProblemHttpResult Conflict(string code, string detail) => Create(StatusCodes.Status409Conflict, code, detail);

    public static ProblemHttpResult PreconditionFailed(string etag) =>
        Create(StatusCodes.Status412PreconditionFailed, ErrorCodes.PreconditionFailed, $"If-Match does not match the current ETag {etag}.");

    public static ProblemHttpResult NoOperation(string detail) => Create(StatusCodes.Status400BadRequest, ErrorCodes.NoOperation, detail);

    public static ProblemHttpResult ServiceUnavailable() =>
        Create(StatusCodes.Status503ServiceUnavailable, ErrorCodes.ServiceUnavailable, "The database is unreachable; nothing was stored. Retry later.");

    private static string Title(string code) => code switch
    {
        ErrorCodes.InvalidParameterValue => "Invalid parameter value",
        ErrorCodes.InvalidParameterCombination => "Invalid parameter combination",
        ErrorCodes.ServiceUnavailable => "Service unavailable",
        _ => code,
    };
}
