using ControlPlane.Api.Http;
using ControlPlane.Api.Monitoring;
using ControlPlane.Api.Options;
using ControlPlane.Api.Parameters;
using ControlPlane.Api.QueryApi;
using ControlPlane.Api.Security.Tls;
using ControlPlane.Api.Validation;
using ControlPlane.Domain;
using FluentValidation;
using Microsoft.AspNetCore.Routing;
using Microsoft.OpenApi;

namespace ControlPlane.Api.Endpoints;

public static class ApiSetup
{
    /// <summary>
    /// The REST API and the ElastiCache query API: validators, API keys, idempotency, JSON bodies,
    /// one problem-details policy, throttling, Kestrel's limits and the OpenAPI document.
    /// </summary>
    public static WebApplicationBuilder AddControlPlaneApi(this WebApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddSingleton<IValidator<ReplicationGroupSpec>, ReplicationGroupSpecValidator>();
        services.AddSingleton<IValidator<CacheClusterSpec>, CacheClusterSpecValidator>();
        services.AddApiKeyAuthentication();
        // The ElastiCache query API (POST /): API key secrets for SigV4 are kept encrypted with the key ring AddNodeSecrets sets up.
        services.AddQueryApi();
        HostFilteringProblems.AddTo(services);
        services.AddScoped<Idempotency>();
        services.AddScoped<ParameterGroups>();
        services.AddSingleton<JsonBodies>();

        services.ConfigureHttpJsonOptions(o => JsonBodies.Configure(o.SerializerOptions));
        // A body that does not bind throws, so ApiExceptionHandler can answer with the contract's problem details.
        services.Configure<RouteHandlerOptions>(o => o.ThrowOnBadRequest = true);
        services.AddProblemDetails(o => o.CustomizeProblemDetails = Problems.AddCodes);
        services.AddExceptionHandler<ApiExceptionHandler>();
        services.AddThrottling();
        // Kestrel answers what it refuses itself without a body, so its limits sit above ours
        // (RequestScreening): the sizes that matter are refused by the app, with problem details.
        builder.WebHost.ConfigureKestrel((context, kestrel) =>
        {
            var http = context.Configuration.GetSection(ControlPlaneOptions.Section).Get<ControlPlaneOptions>()?.Http ?? new HttpLimitsOptions();
            kestrel.Limits.MaxRequestBodySize = http.MaxRequestBodyBytes;
            kestrel.Limits.MaxRequestLineSize = Math.Max(kestrel.Limits.MaxRequestLineSize, 2 * http.MaxUrlBytes);
            kestrel.Limits.MaxRequestHeadersTotalSize = Math.Max(kestrel.Limits.MaxRequestHeadersTotalSize, 2 * http.MaxRequestHeadersBytes);
        });

        services.AddEndpointsApiExplorer();
        services.AddSwaggerGen(o =>
        {
            o.SwaggerDoc("v1", new OpenApiInfo
            {
                Title = "ControlPlane",
                Version = "v1",
                Description = ApiDocument.Description,
            });
            o.AddSecurityDefinition(ApiKeyDocument.SchemeName, ApiKeyDocument.Scheme);
            o.OperationFilter<ApiKeyDocument>();
            o.SupportNonNullableReferenceTypes();
            o.CustomSchemaIds(SchemaId);
        });
        return builder;
    }

    /// <summary>The request pipeline, in its order: errors, status pages, rate limits, routing, screening, Swagger, keys, /metrics, policies.</summary>
    public static WebApplication UseControlPlaneApi(this WebApplication app)
    {
        app.UseExceptionHandler();
        // Unrouted paths (404) and methods a path does not have (405) get problem details too.
        app.UseStatusCodePages();
        app.UseThrottling();
        app.UseRouting();
        app.UseMiddleware<RequestScreening>();
        app.UseSwagger(o => o.RouteTemplate = "openapi/{documentName}.{extension:regex(^(json|yaml)$)}");
        app.UseSwaggerUI(o =>
        {
            o.RoutePrefix = "swagger";
            o.SwaggerEndpoint("/openapi/v1.json", "ControlPlane v1");
        });
        // After Swagger: the UI page and the document need no key (the fallback policy would cover them too).
        app.UseAuthentication();
        app.UseMetricsEndpoint();
        app.UseAuthorization();
        return app;
    }

    /// <summary>Every endpoint of the service.</summary>
    public static IEndpointRouteBuilder MapControlPlane(this IEndpointRouteBuilder app)
    {
        app.MapReplicationGroups();
        app.MapCacheClusters();
        app.MapSnapshots();
        app.MapEvents();
        app.MapCatalog();
        app.MapCertificateAuthority();
        app.MapHealth();
        app.MapApiKeys();
        app.MapTags();
        app.MapQueryApi();
        app.MapMonitoring();
        app.MapParameterGroups();
        app.MapUsers();
        app.MapReboots();
        return app;
    }

    // "ReplicationGroupResponse" is "ReplicationGroup" in the document; Page<ReplicationGroupResponse> is "ReplicationGroupPage".
    private static string SchemaId(Type type) => type.IsGenericType
        ? string.Concat(type.GetGenericArguments().Select(SchemaId)) + type.Name[..type.Name.IndexOf('`')]
        : type.Name.Replace("Response", "", StringComparison.Ordinal);
}
