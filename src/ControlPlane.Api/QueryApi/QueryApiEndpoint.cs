using System.Security.Claims;
using System.Text;
using System.Xml.Linq;
using ControlPlane.Api.Data;
using ControlPlane.Api.Http;
using Microsoft.Net.Http.Headers;

namespace ControlPlane.Api.QueryApi;

/// <summary>Marks the query endpoint, which answers its own errors in XML (RequestScreening leaves its body alone).</summary>
public sealed class QueryEndpointMetadata;

/// <summary>
/// <c>POST /</c>, ElastiCache's query protocol: a form-encoded body with <c>Action</c> and
/// <c>Version=2015-02-02</c>, signed with Signature Version 4; XML answers and ElastiCache's error XML.
/// The actions themselves (<see cref="QueryActions"/>) call the REST endpoints, so both faces
/// show, change and delete the same resources under the same rules.
/// </summary>
public static partial class QueryApiEndpoint
{
    public static IEndpointRouteBuilder MapQueryApi(this IEndpointRouteBuilder app)
    {
        app.MapPost("/", Handle).AllowAnonymous().ExcludeFromDescription().WithMetadata(new QueryEndpointMetadata()).DisableAntiforgery();
        return app;
    }

    public static IServiceCollection AddQueryApi(this IServiceCollection services)
    {
        services.AddSingleton<RestFace>();
        services.AddSingleton<ApiKeySecrets>();
        services.AddScoped<SigV4>();
        return services;
    }

    /// <summary>True for a request to the query API's endpoint (POST /).</summary>
    public static bool Serves(HttpRequest request) => HttpMethods.IsPost(request.Method) && request.Path == "/";

    /// <summary>An error XML answer, for faults found before the endpoint runs (throttling).</summary>
    public static Task WriteFaultAsync(HttpContext http, QueryFault fault) =>
        WriteAsync(http, fault.Status, QueryXml.Error(fault, Guid.NewGuid().ToString()), http.RequestAborted);

    private static async Task WriteAsync(HttpContext http, int status, XDocument document, CancellationToken ct)
    {
        var requestId = (string?)document.Descendants(QueryXml.Ns + "RequestId").FirstOrDefault() ?? "";
        http.Response.StatusCode = status;
        http.Response.ContentType = "text/xml";
        http.Response.Headers["x-amzn-RequestId"] = requestId;
        await http.Response.WriteAsync(document.Declaration + document.ToString(SaveOptions.DisableFormatting), ct);
    }

    private static async Task Handle(HttpContext http, SigV4 sigV4, RestFace rest, ILoggerFactory loggers)
    {
        var requestId = Guid.NewGuid().ToString();
        var ct = http.RequestAborted;
        string? action = null;
        XDocument document;
        var status = StatusCodes.Status200OK;
        try
        {
            var body = await ReadBodyAsync(http.Request, ct);
            if (!MediaTypeHeaderValue.TryParse(http.Request.ContentType, out var type)
                || !type.MediaType.Equals("application/x-www-form-urlencoded", StringComparison.OrdinalIgnoreCase))
                throw new QueryFault(400, "MalformedQueryString",
                    "The body must be application/x-www-form-urlencoded (Action=...&Version=2015-02-02&...), as the AWS CLI, SDKs and Terraform send it; JSON is not accepted.");
            var parameters = new QueryParameters(ParseForm(body));
            var signed = await sigV4.VerifyAsync(http.Request, body, ct);
            http.User = signed.Principal;
            action = parameters.Action ?? throw new QueryFault(400, "MissingAction", "The request must contain the parameter Action.");
            if (parameters.Version is null)
                throw QueryFault.MissingParameter("Version");
            if (parameters.Version != QueryXml.ApiVersion || !QueryActions.Known(action))
                throw new QueryFault(400, "InvalidAction", $"Could not find operation {action} for version {parameters.Version}.");
            var tenant = signed.Principal.FindFirstValue(ApiKeyClaims.Tenant) ?? TenantNames.Default;
            var actions = new QueryActions(http, parameters, rest, new QueryShapes(signed.Region, tenant), tenant, ct);
            var result = await actions.RunAsync(action);
            document = QueryXml.Response(action, result, requestId);
        }
        catch (QueryFault fault)
        {
            status = fault.Status;
            document = QueryXml.Error(fault, requestId);
            LogFault(loggers.CreateLogger("ControlPlane.QueryApi"), action ?? "-", fault.Code, fault.Status);
        }
        await WriteAsync(http, status, document, ct);
    }

    private static async Task<byte[]> ReadBodyAsync(HttpRequest request, CancellationToken ct)
    {
        using var buffer = new MemoryStream();
        await request.Body.CopyToAsync(buffer, ct);
        return buffer.ToArray();
    }

    /// <summary>application/x-www-form-urlencoded; a parameter given twice is refused.</summary>
    private static Dictionary<string, string> ParseForm(byte[] body)
    {
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var pair in Encoding.UTF8.GetString(body).Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var parts = pair.Split('=', 2);
            var key = Decode(parts[0]);
            if (!values.TryAdd(key, parts.Length > 1 ? Decode(parts[1]) : ""))
                throw QueryFault.InvalidParameterValue($"The parameter {key} is given more than once.");
        }
        return values;
    }

    private static string Decode(string text) => Uri.UnescapeDataString(text.Replace('+', ' '));

    [LoggerMessage(Level = LogLevel.Information, Message = "Query API {Action} answered {Code} ({Status})")]
    private static partial void LogFault(ILogger logger, string action, string code, int status);
}
