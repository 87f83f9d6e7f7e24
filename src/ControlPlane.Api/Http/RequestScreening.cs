using ControlPlane.Api.Options;
using ControlPlane.Domain;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Options;
using Microsoft.Net.Http.Headers;

namespace ControlPlane.Api.Http;

/// <summary>
/// Refuses, before any endpoint runs, what no endpoint may be given: a URL or headers over their
/// limits, a query or route value with control characters or given twice, a body over the size
/// limit, of another media type, or not the strict JSON of <see cref="JsonScreen"/>. Every refusal
/// is a problem with the contract's code, so nothing refused here is stored or started.
/// Runs after routing, so route values ({id}, {name}) are known.
/// </summary>
public sealed class RequestScreening(RequestDelegate next, IOptions<ControlPlaneOptions> options)
{
    private static readonly string[] JsonMediaTypes = ["application/json", "application/merge-patch+json"];

    public async Task InvokeAsync(HttpContext context)
    {
        var limits = options.Value.Http;
        var refusal = CheckUrlAndHeaders(context.Request, limits) ?? CheckValues(context.Request);
        // The ElastiCache query API takes form bodies and answers its own errors in XML.
        var queryApi = context.GetEndpoint()?.Metadata.GetMetadata<QueryApi.QueryEndpointMetadata>() is not null;
        if (refusal is null && HasBody(context) && !queryApi)
            refusal = await ScreenBodyAsync(context.Request, limits);
        if (refusal is not null)
        {
            await refusal.ExecuteAsync(context);
            return;
        }
        await next(context);
    }

    private static IResult? CheckUrlAndHeaders(HttpRequest request, HttpLimitsOptions limits)
    {
        var url = (request.PathBase.Value?.Length ?? 0) + (request.Path.Value?.Length ?? 0) + (request.QueryString.Value?.Length ?? 0);
        if (url > limits.MaxUrlBytes)
            return Problems.Create(StatusCodes.Status414UriTooLong, ErrorCodes.RequestTooLarge,
                $"The URL is longer than {limits.MaxUrlBytes} bytes.");
        var headers = request.Headers.Sum(h => h.Key.Length + h.Value.Sum(v => v?.Length ?? 0));
        return headers > limits.MaxRequestHeadersBytes
            ? Problems.Create(StatusCodes.Status431RequestHeaderFieldsTooLarge, ErrorCodes.RequestTooLarge,
                $"The request headers are larger than {limits.MaxRequestHeadersBytes} bytes together.")
            : null;
    }

    private static IResult? CheckValues(HttpRequest request)
    {
        foreach (var (key, values) in request.Query)
        {
            if (JsonScreen.HasControlCharacter(key))
                return Problems.Invalid("query", "Query parameter names must not contain control characters.");
            if (values.Count > 1)
                return Problems.Invalid(key, $"{key} is given more than once.");
            if (values.Any(v => v is not null && JsonScreen.HasControlCharacter(v)))
                return Problems.Invalid(key, $"{key} must not contain control characters (such as NUL).");
        }
        foreach (var (key, value) in request.RouteValues)
            if (value is string text && JsonScreen.HasControlCharacter(text))
                return Problems.Invalid(key, $"{key} must not contain control characters (such as NUL).");
        if (request.Headers[Idempotency.Header] is { Count: > 0 } keys && Idempotency.CheckKey(keys) is { } keyError)
            return Problems.Invalid(Idempotency.Header, keyError);
        return null;
    }

    private static bool HasBody(HttpContext context) =>
        context.Request.ContentLength > 0
        || context.Request.ContentLength is null && context.Features.Get<IHttpRequestBodyDetectionFeature>()?.CanHaveBody == true;

    private static async Task<IResult?> ScreenBodyAsync(HttpRequest request, HttpLimitsOptions limits)
    {
        if (request.ContentLength > limits.MaxRequestBodyBytes)
            return TooLarge(limits);
        if (!MediaTypeHeaderValue.TryParse(request.ContentType, out var type)
            || !JsonMediaTypes.Contains(type.MediaType.Value, StringComparer.OrdinalIgnoreCase)
            || type.Charset.HasValue && !type.Charset.Equals("utf-8", StringComparison.OrdinalIgnoreCase))
            return Problems.Create(StatusCodes.Status415UnsupportedMediaType, ErrorCodes.UnsupportedMediaType,
                "Request bodies are JSON: Content-Type application/json (or application/merge-patch+json for PATCH), UTF-8.");

        // Read at most one byte more than allowed, so a body without a Content-Length is cut off early too.
        var buffer = new MemoryStream();
        var chunk = new byte[16 * 1024];
        int read;
        while ((read = await request.Body.ReadAsync(chunk, request.HttpContext.RequestAborted)) > 0)
        {
            buffer.Write(chunk, 0, read);
            if (buffer.Length > limits.MaxRequestBodyBytes)
                return TooLarge(limits);
        }
        if (buffer.Length > 0 && JsonScreen.Check(buffer.GetBuffer().AsSpan(0, (int)buffer.Length)) is { } violation)
            return Problems.Validation([violation]);
        buffer.Position = 0;
        request.Body = buffer;
        request.ContentLength = buffer.Length;
        return null;
    }

    private static IResult TooLarge(HttpLimitsOptions limits) =>
        Problems.Create(StatusCodes.Status413PayloadTooLarge, ErrorCodes.RequestTooLarge,
            $"The body is larger than {limits.MaxRequestBodyBytes} bytes; no request of this API needs more.");
}
