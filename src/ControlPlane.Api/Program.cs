using ControlPlane.Api.Data;
using ControlPlane.Api.Endpoints;
using ControlPlane.Api.Engines;
using ControlPlane.Api.Reconciliation;
using ControlPlane.Api.Http;
using ControlPlane.Api.Monitoring;
using ControlPlane.Api.Options;
using ControlPlane.Api.Runtime;
using ControlPlane.Api.Security;
using ControlPlane.Api.Security.Tls;
using ControlPlane.Api.Snapshots;
using ControlPlane.Api.Validation;
using ControlPlane.Api.World;
using ControlPlane.Domain;
using FluentValidation;
using ControlPlane.Api.QueryApi;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.Routing;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Microsoft.OpenApi;
using Npgsql;

var builder = WebApplication.CreateBuilder(args);

builder.Services.AddOptions<ControlPlaneOptions>()
    .Bind(builder.Configuration.GetSection(ControlPlaneOptions.Section))
    .ValidateDataAnnotations()
    .Validate(o => o.Zones.Select(z => z.Name).Distinct().Count() == o.Zones.Count, "Availability zone names must be unique.")
    .ValidateOnStart();
// tcp:// engines only with mutual TLS (dockerd --tlsverify): refused at start-up with what to set.
builder.Services.AddSingleton<IValidateOptions<ControlPlaneOptions>, DockerEndpointRules>();
builder.Services.AddSingleton(sp => sp.GetRequiredService<IOptions<ControlPlaneOptions>>().Value.Catalog);
builder.Services.AddSingleton(sp => sp.GetRequiredService<IOptions<ControlPlaneOptions>>().Value.Limits);
builder.Services.AddSingleton(TimeProvider.System);

builder.Services.AddDbContext<ControlPlaneDbContext>(options =>
    options.UseNpgsql(Database.ConnectionString(builder.Configuration), npgsql => npgsql.MigrationsAssembly(ControlPlaneDbContext.MigrationsAssembly)));

builder.Services.AddSingleton<IValidator<ReplicationGroupSpec>, ReplicationGroupSpecValidator>();
builder.Services.AddSingleton<IValidator<CacheClusterSpec>, CacheClusterSpecValidator>();
builder.Services.AddApiKeyAuthentication();
// The ElastiCache query API (POST /): API key secrets for SigV4 are kept encrypted with the key ring AddNodeSecrets sets up.
builder.Services.AddQueryApi();
HostFilteringProblems.AddTo(builder.Services);
builder.Services.AddScoped<Idempotency>();
builder.Services.AddScoped<ControlPlane.Api.Parameters.ParameterGroups>();
builder.Services.AddSingleton<JsonBodies>();
builder.Services.AddSingleton<ZoneHealth>();

// The reconciler: zones, engine admin clients, the planner's executor and its wake-ups.
builder.Services.AddSingleton<ZoneRegistry>();
// The control plane's own login on every node and the API key secrets kept for SigV4, encrypted
// with Data Protection (key ring in the database, or in ControlPlane:KeyRingDir when set).
builder.Services.AddNodeSecrets(builder.Configuration);
builder.Services.AddTransitEncryption();
builder.Services.AddSingleton<IRedisAdmin, RedisAdmin>();
builder.Services.AddSingleton<ISlotMover, SlotMover>();
builder.Services.AddSingleton<ISnapshotStore, FolderSnapshotStore>();
builder.Services.AddSingleton<SnapshotTaker>();
builder.Services.AddSingleton<IMemcachedAdmin, MemcachedAdmin>();
builder.Services.AddSingleton<NodeSpecs>();
builder.Services.AddSingleton<PortAllocator>();
builder.Services.AddSingleton<IHeartbeats, Heartbeats>();
builder.Services.AddSingleton<Observer>();
builder.Services.AddSingleton<Netfilter>();
builder.Services.AddSingleton<KernelEndpoints>();
builder.Services.AddSingleton<ProxyEndpoints>();
builder.Services.AddSingleton<GroupEndpoints>();
builder.Services.AddSingleton<WarmPool>();
builder.Services.AddSingleton<ControlPlane.Api.Parameters.ParameterApplier>();
builder.Services.AddSingleton<ControlPlane.Api.Security.ClientSecrets>();
builder.Services.AddSingleton<ControlPlane.Api.Security.ClientAccessApplier>();
builder.Services.AddSingleton<ControlPlane.Api.Discovery.DiscoveryEndpoints>();
builder.Services.AddSingleton<NodeReboots>();
builder.Services.AddSingleton<Converger>();
builder.Services.AddSingleton<ReconcileSignal>();
builder.Services.AddSingleton<ContainerDeaths>();
builder.Services.AddSingleton<Reconciler>();
builder.Services.AddWorld(builder.Configuration); // ControlPlane:World: docker (default) or memory (World/WorldSetup.cs)
builder.Services.AddHostedService(sp => sp.GetRequiredService<Reconciler>());
builder.Services.AddHostedService<ChangeListener>();
builder.Services.AddHostedService<ContainerEventWatcher>();
// Snapshot copies, deletions, expiry and the daily automated snapshots; off with the reconciler.
builder.Services.AddSingleton<SnapshotHousekeeping>();
builder.Services.AddHostedService<SnapshotHousekeepingWorker>();
builder.Services.AddSingleton<ControlPlane.Api.Maintenance.MaintenanceScheduler>();
builder.Services.AddHostedService<ControlPlane.Api.Maintenance.MaintenanceWorker>();
// Events, idempotency keys and test failovers are pruned after their windows.
builder.Services.AddSingleton<Retention>();
builder.Services.AddHostedService<RetentionWorker>();
// Metrics (/metrics), the node collector, time series, slow logs.
builder.AddMonitoring();

builder.Services.ConfigureHttpJsonOptions(o => JsonBodies.Configure(o.SerializerOptions));
// A body that does not bind throws, so ApiExceptionHandler can answer with the contract's problem details.
builder.Services.Configure<RouteHandlerOptions>(o => o.ThrowOnBadRequest = true);
builder.Services.AddProblemDetails(o => o.CustomizeProblemDetails = Problems.AddCodes);
builder.Services.AddExceptionHandler<ApiExceptionHandler>();
builder.Services.AddThrottling();
// Kestrel answers what it refuses itself without a body, so its limits sit above ours
// (RequestScreening): the sizes that matter are refused by the app, with problem details.
builder.WebHost.ConfigureKestrel((context, kestrel) =>
{
    var http = context.Configuration.GetSection(ControlPlaneOptions.Section).Get<ControlPlaneOptions>()?.Http ?? new HttpLimitsOptions();
    kestrel.Limits.MaxRequestBodySize = http.MaxRequestBodyBytes;
    kestrel.Limits.MaxRequestLineSize = Math.Max(kestrel.Limits.MaxRequestLineSize, 2 * http.MaxUrlBytes);
    kestrel.Limits.MaxRequestHeadersTotalSize = Math.Max(kestrel.Limits.MaxRequestHeadersTotalSize, 2 * http.MaxRequestHeadersBytes);
});

builder.Services.AddEndpointsApiExplorer();
builder.Services.AddSwaggerGen(o =>
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

var app = builder.Build();

app.UseExceptionHandler();
// Unrouted paths (404) and methods a path does not have (405) get problem details too.
app.UseStatusCodePages();
app.UseRateLimiter();
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

app.Run();

// "ReplicationGroupResponse" is "ReplicationGroup" in the document; Page<ReplicationGroupResponse> is "ReplicationGroupPage".
static string SchemaId(Type type) => type.IsGenericType
    ? string.Concat(type.GetGenericArguments().Select(SchemaId)) + type.Name[..type.Name.IndexOf('`')]
    : type.Name.Replace("Response", "", StringComparison.Ordinal);

public partial class Program;

namespace ControlPlane.Api.Data
{
    public static class Database
    {
        public const string DefaultConnectionString = "Host=127.0.0.1;Port=55432;Database=controlplane;Username=controlplane";

        /// <summary>
        /// The "ControlPlane" connection string, with short timeouts unless it sets its own, so an
        /// unreachable database answers 503 in seconds rather than hanging the request.
        /// </summary>
        public static string ConnectionString(IConfiguration configuration)
        {
            var configured = configuration.GetConnectionString("ControlPlane") ?? DefaultConnectionString;
            // NpgsqlConnectionStringBuilder knows every keyword, so ask a plain builder what was actually written.
            var written = new System.Data.Common.DbConnectionStringBuilder { ConnectionString = configured };
            var csb = new NpgsqlConnectionStringBuilder(configured);
            if (!written.ContainsKey("Timeout"))
                csb.Timeout = 3;
            if (!written.ContainsKey("Command Timeout") && !written.ContainsKey("CommandTimeout"))
                csb.CommandTimeout = 15;
            return csb.ConnectionString;
        }
    }
}
