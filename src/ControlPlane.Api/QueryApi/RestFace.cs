using System.Security.Claims;
using System.Text;
using System.Text.Json.Nodes;
using ControlPlane.Api.Http;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Routing.Patterns;

namespace ControlPlane.Api.QueryApi;

/// <summary>What a REST endpoint answered: its status and its JSON body (the resource, a page or a problem).</summary>
public sealed record RestAnswer(int Status, JsonNode? Body)
{
    public bool Ok => Status is >= 200 and < 300;

    /// <summary>The contract's <c>code</c> of a problem answer.</summary>
    public string? Code => (string?)Body?["code"];

    public string Detail => (string?)Body?["detail"] ?? (string?)Body?["title"] ?? $"HTTP {Status}";
}

/// <summary>
/// The query API is another face of the REST API, not a second implementation: every action is
/// carried out by calling the REST endpoints themselves, in process, as the caller (same role
/// check by HTTP method, same tenant, same validation, same events). Each call runs in a DI scope
/// of its own, as a request would; what escapes a handler is turned into problem details by the
/// same exception handler the REST pipeline uses.
/// </summary>
public sealed class RestFace(EndpointDataSource endpoints, IServiceScopeFactory scopes, IAuthorizationPolicyProvider policies,
    IAuthorizationService authorization, IEnumerable<IExceptionHandler> exceptionHandlers)
{
    public async Task<RestAnswer> SendAsync(HttpContext outer, string method, string path, JsonNode? body = null,
        IReadOnlyDictionary<string, string?>? query = null, CancellationToken ct = default)
    {
        var (endpoint, routeValues) = Find(method, path);
        if (endpoint is null)
            throw new InvalidOperationException($"No REST endpoint answers {method} {path}.");

        await using var scope = scopes.CreateAsyncScope();
        var context = new DefaultHttpContext { RequestServices = scope.ServiceProvider, User = outer.User };
        context.Request.Method = method;
        context.Request.Scheme = outer.Request.Scheme;
        context.Request.Host = outer.Request.Host;
        context.Request.Path = path;
        if (query is not null)
            context.Request.QueryString = QueryString.Create(query.Where(q => q.Value is not null));
        foreach (var (key, value) in routeValues)
            context.Request.RouteValues[key] = value;
        if (body is not null)
        {
            var bytes = Encoding.UTF8.GetBytes(body.ToJsonString());
            context.Request.ContentType = HttpMethods.IsPatch(method) ? "application/merge-patch+json" : "application/json";
            context.Request.ContentLength = bytes.Length;
            context.Request.Body = new MemoryStream(bytes);
            // Minimal APIs read a body only when the server says the request can have one.
            context.Features.Set<IHttpRequestBodyDetectionFeature>(new HasBody());
        }
        var response = new MemoryStream();
        context.Response.Body = response;
        context.RequestAborted = ct;
        context.SetEndpoint(endpoint);

        // The REST pipeline's own rule (GET for any key, changes for operator and admin), not a copy of it.
        var policy = await policies.GetFallbackPolicyAsync();
        if (policy is not null && !(await authorization.AuthorizeAsync(outer.User, context, policy)).Succeeded)
            return new RestAnswer(StatusCodes.Status403Forbidden, new JsonObject
            {
                ["code"] = ApiKeyClaims.AccessDenied,
                ["detail"] = $"The key's role ({outer.User.FindFirstValue(ClaimTypes.Role)}) does not allow this call.",
            });

        try
        {
            await endpoint.RequestDelegate!(context);
        }
        catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
        {
            response.SetLength(0);
            foreach (var handler in exceptionHandlers)
                if (await handler.TryHandleAsync(context, e, ct))
                    break;
        }
        var text = Encoding.UTF8.GetString(response.ToArray());
        return new RestAnswer(context.Response.StatusCode, text.Length == 0 ? null : JsonNode.Parse(text));
    }

    public Task<RestAnswer> GetAsync(HttpContext outer, string path, IReadOnlyDictionary<string, string?>? query = null, CancellationToken ct = default) =>
        SendAsync(outer, HttpMethods.Get, path, null, query, ct);

    /// <summary>Every item of a paged REST list, following nextCursor.</summary>
    public async Task<(List<JsonNode> Items, RestAnswer? Failure)> ListAllAsync(HttpContext outer, string path,
        IReadOnlyDictionary<string, string?>? query = null, CancellationToken ct = default)
    {
        var items = new List<JsonNode>();
        string? cursor = null;
        do
        {
            var q = new Dictionary<string, string?>(query ?? new Dictionary<string, string?>()) { ["limit"] = "100", ["cursor"] = cursor };
            var answer = await GetAsync(outer, path, q, ct);
            if (!answer.Ok)
                return (items, answer);
            var body = answer.Body!;
            if (body is JsonArray array)
                return (array.Select(n => n!).ToList(), null);
            items.AddRange(body["items"]!.AsArray().Select(n => n!));
            cursor = (string?)body["nextCursor"];
        }
        while (cursor is not null);
        return (items, null);
    }

    private sealed class HasBody : IHttpRequestBodyDetectionFeature
    {
        public bool CanHaveBody => true;
    }

    private (RouteEndpoint? Endpoint, Dictionary<string, string> RouteValues) Find(string method, string path)
    {
        var segments = path.Trim('/').Split('/');
        foreach (var endpoint in endpoints.Endpoints.OfType<RouteEndpoint>())
        {
            if (endpoint.Metadata.GetMetadata<HttpMethodMetadata>() is not { } methods || !methods.HttpMethods.Contains(method, StringComparer.OrdinalIgnoreCase))
                continue;
            var pattern = endpoint.RoutePattern.PathSegments;
            if (pattern.Count != segments.Length)
                continue;
            var values = new Dictionary<string, string>();
            var matches = true;
            for (var i = 0; i < pattern.Count && matches; i++)
            {
                var part = pattern[i].Parts.Single();
                if (part is RoutePatternLiteralPart literal)
                    matches = string.Equals(literal.Content, segments[i], StringComparison.OrdinalIgnoreCase);
                else if (part is RoutePatternParameterPart parameter)
                    values[parameter.Name] = Uri.UnescapeDataString(segments[i]);
                else
                    matches = false;
            }
            if (matches)
                return (endpoint, values);
        }
        return (null, []);
    }
}
