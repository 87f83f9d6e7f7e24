using System.Globalization;
using ControlPlane.Domain;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Http.Metadata;

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

    /// <summary>
    /// The code of a problem the framework writes itself (an unrouted path, a method the path does
    /// not have): every error this service sends carries one, see <see cref="AddCodes"/>.
    /// </summary>
    public static string CodeFor(int status) => status switch
    {
        StatusCodes.Status404NotFound => ErrorCodes.NotFound,
        StatusCodes.Status405MethodNotAllowed => ErrorCodes.MethodNotAllowed,
        StatusCodes.Status408RequestTimeout => ErrorCodes.RequestTimeout,
        StatusCodes.Status413PayloadTooLarge or StatusCodes.Status414UriTooLong or StatusCodes.Status431RequestHeaderFieldsTooLarge => ErrorCodes.RequestTooLarge,
        StatusCodes.Status415UnsupportedMediaType => ErrorCodes.UnsupportedMediaType,
        StatusCodes.Status429TooManyRequests => ErrorCodes.ThrottlingException,
        StatusCodes.Status503ServiceUnavailable => ErrorCodes.ServiceUnavailable,
        >= 500 => ErrorCodes.InternalFailure,
        _ => ErrorCodes.MalformedRequest,
    };

    /// <summary>Gives the problems the framework writes (status code pages, 405) the contract's code and a detail.</summary>
    public static void AddCodes(ProblemDetailsContext context)
    {
        var problem = context.ProblemDetails;
        if (problem.Extensions.ContainsKey("code"))
            return;
        var status = problem.Status ?? context.HttpContext.Response.StatusCode;
        if (status == StatusCodes.Status400BadRequest && UnparsedParameter(context.HttpContext) is { } field)
        {
            var message = $"{field} is malformed or of the wrong type.";
            problem.Extensions["code"] = ErrorCodes.InvalidParameterValue;
            problem.Extensions["errors"] = new Dictionary<string, string[]> { [field] = [message] };
            problem.Title = Title(ErrorCodes.InvalidParameterValue);
            problem.Detail = message;
            return;
        }
        var code = CodeFor(status);
        problem.Extensions["code"] = code;
        problem.Title = Title(code);
        problem.Detail ??= status switch
        {
            StatusCodes.Status404NotFound => $"There is no resource at {context.HttpContext.Request.Path}.",
            StatusCodes.Status405MethodNotAllowed => $"{context.HttpContext.Request.Method} is not allowed on {context.HttpContext.Request.Path}.",
            _ => null,
        };
    }

    /// <summary>
    /// The query or route parameter whose value does not parse (limit=ten), for a 400 the framework
    /// wrote without a body. The request delegates generated at build time refuse such a value that
    /// way and do not say which, ThrowOnBadRequest or not; the endpoint's binding metadata does.
    /// </summary>
    private static string? UnparsedParameter(HttpContext http)
    {
        foreach (var binding in http.GetEndpoint()?.Metadata.GetOrderedMetadata<IParameterBindingMetadata>() ?? [])
        {
            if (!binding.HasTryParse)
                continue;
            var text = http.Request.RouteValues.TryGetValue(binding.Name, out var route) ? route?.ToString() : http.Request.Query[binding.Name].ToString();
            if (string.IsNullOrEmpty(text))
                continue;
            var type = Nullable.GetUnderlyingType(binding.ParameterInfo.ParameterType) ?? binding.ParameterInfo.ParameterType;
            var tryParse = type.GetMethod("TryParse", [typeof(string), typeof(IFormatProvider), type.MakeByRefType()]);
            object?[] arguments = [text, CultureInfo.InvariantCulture, null];
            if (tryParse is null || tryParse.Invoke(null, arguments) is not true)
                return binding.Name;
        }
        return null;
    }

    private static string Title(string code) => code switch
    {
        ErrorCodes.InvalidParameterValue => "Invalid parameter value",
        ErrorCodes.InvalidParameterCombination => "Invalid parameter combination",
        ErrorCodes.ServiceUnavailable => "Service unavailable",
        ErrorCodes.NotFound => "Not found",
        ErrorCodes.MethodNotAllowed => "Method not allowed",
        ErrorCodes.RequestTimeout => "Request timeout",
        ErrorCodes.RequestTooLarge => "Request too large",
        ErrorCodes.UnsupportedMediaType => "Unsupported media type",
        ErrorCodes.MalformedRequest => "Malformed request",
        ErrorCodes.ThrottlingException => "Rate exceeded",
        ErrorCodes.InternalFailure => "Internal failure",
        _ => code,
    };
}
