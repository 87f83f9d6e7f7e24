using Microsoft.AspNetCore.Authorization;
using Microsoft.OpenApi;
using Swashbuckle.AspNetCore.SwaggerGen;

namespace ControlPlane.Api.Http;

/// <summary>
/// The API key in the OpenAPI document: a bearer scheme (Swagger UI's Authorize button), required
/// by every operation that does not allow anonymous callers, and the admin's <c>?tenant=</c>.
/// </summary>
public sealed class ApiKeyDocument : IOperationFilter
{
    public const string SchemeName = "apiKey";

    public static OpenApiSecurityScheme Scheme => new()
    {
        Type = SecuritySchemeType.Http,
        Scheme = "bearer",
        BearerFormat = "cpk_<keyId>_<secret>",
        Description = "An API key: Authorization: Bearer cpk_<keyId>_<secret>.",
    };

    private static readonly string[] TenantOwned = ["v1/replication-groups", "v1/cache-clusters", "v1/snapshots", "v1/events"];

    public void Apply(OpenApiOperation operation, OperationFilterContext context)
    {
        var metadata = context.ApiDescription.ActionDescriptor.EndpointMetadata;
        if (metadata.OfType<IAllowAnonymous>().Any())
            return;
        operation.Security ??= [];
        operation.Security.Add(new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference(SchemeName, context.Document)] = [] });
        operation.Responses ??= [];
        operation.Responses.TryAdd("401", new OpenApiResponse { Description = "No API key (AuthenticationRequired), or an unknown, revoked or malformed one (InvalidApiKey)" });
        operation.Responses.TryAdd("403", new OpenApiResponse { Description = "The key's role does not allow this call (AccessDenied)" });
        var path = context.ApiDescription.RelativePath ?? "";
        if (!TenantOwned.Any(p => path.StartsWith(p, StringComparison.Ordinal)))
            return;
        operation.Parameters ??= [];
        operation.Parameters.Add(new OpenApiParameter
        {
            Name = Caller.TenantParameter,
            In = ParameterLocation.Query,
            Required = false,
            Description = "Admin keys only: the tenant to act on (default: the key's own). Ignored for other keys.",
            Schema = new OpenApiSchema { Type = JsonSchemaType.String },
        });
    }
}
