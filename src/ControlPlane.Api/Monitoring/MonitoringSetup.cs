using ControlPlane.Api.Http;
using ControlPlane.Api.Options;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Options;
using Npgsql;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;

namespace ControlPlane.Api.Monitoring;

/// <summary>Metrics (OpenTelemetry, served in Prometheus' text format), the node collector, the time series and slow log API.</summary>
public static class MonitoringSetup
{
    public const string MetricsPath = "/metrics";

    public static WebApplicationBuilder AddMonitoring(this WebApplicationBuilder builder)
    {
        builder.Services.AddOptions<MetricsOptions>().Bind(builder.Configuration.GetSection(MetricsOptions.Section)).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddSingleton<NodeMetricsStore>();
        builder.Services.AddSingleton<ControlPlaneMetrics>();
        builder.Services.AddSingleton<ContainerStatsReader>();
        builder.Services.AddSingleton<NodeMetricsCollector>();
        builder.Services.AddHostedService<BackgroundService>(sp =>
        {
            // The collector reads nodes where the reconciler runs, unless told otherwise.
            var enabled = sp.GetRequiredService<IOptions<MetricsOptions>>().Value.CollectorEnabled
                ?? sp.GetRequiredService<IOptions<ControlPlaneOptions>>().Value.Reconciler.Enabled;
            return enabled ? sp.GetRequiredService<NodeMetricsCollector>() : new Idle();
        });
        // Log lines carry the trace and span of the request (or the reconciler's work) they belong to;
        // ControlPlane:Logging:Json writes one JSON object a line, with the scopes' fields (group, node, action).
        builder.Logging.Configure(o => o.ActivityTrackingOptions = ActivityTrackingOptions.TraceId | ActivityTrackingOptions.SpanId | ActivityTrackingOptions.ParentId);
        if (builder.Configuration.GetValue<bool>("ControlPlane:Logging:Json"))
            builder.Logging.AddJsonConsole(o =>
            {
                o.IncludeScopes = true;
                o.UseUtcTimestamp = true;
                o.TimestampFormat = "yyyy-MM-dd'T'HH:mm:ss.fff'Z' ";
            });
        builder.Services.AddOpenTelemetry()
            .WithMetrics(metrics => metrics
                .AddMeter(ControlPlaneMetrics.MeterName)
                .AddAspNetCoreInstrumentation()
                .AddNpgsqlInstrumentation()
                .AddPrometheusExporter(o =>
                {
                    o.TargetInfoEnabled = false;
                    o.ScopeInfoEnabled = false;
                }))
            .WithTracing(tracing => tracing
                .AddAspNetCoreInstrumentation(o => o.Filter = http => http.Request.Path != MetricsPath)
                .AddSource(ControlPlaneMetrics.Activities.Name));
        return builder;
    }

    /// <summary>
    /// /metrics, between authentication and authorization: a key of any role (unless
    /// ControlPlane:Metrics:AllowAnonymous), and a key that is not an admin's sees only the series
    /// of its own tenant.
    /// </summary>
    public static IApplicationBuilder UseMetricsEndpoint(this IApplicationBuilder app) =>
        app.UseOpenTelemetryPrometheusScrapingEndpoint(meterProvider: null, predicate: http => http.Request.Path == MetricsPath, path: null,
            configureBranchedPipeline: branch => branch.Use(ScreenAsync), optionsName: null);

    private static async Task ScreenAsync(HttpContext http, RequestDelegate next)
    {
        var allowAnonymous = http.RequestServices.GetRequiredService<IOptions<MetricsOptions>>().Value.AllowAnonymous;
        var authenticated = http.User.Identity?.IsAuthenticated == true;
        if (!authenticated && (!allowAnonymous || http.Request.Headers.Authorization.Count > 0))
        {
            // The key handler answers 401 with the contract's problem details (missing or invalid key).
            await http.ChallengeAsync(ApiKeyClaims.Scheme);
            return;
        }
        if (!authenticated || http.User.IsInRole(AccessPolicies.Admin))
        {
            await next(http);
            return;
        }
        var tenant = http.RequestServices.GetRequiredService<Caller>().OwnTenant;
        // The exporter answers gzip when asked; the lines are screened as text, so ask for text.
        http.Request.Headers.AcceptEncoding = "identity";
        var original = http.Features.Get<IHttpResponseBodyFeature>()!;
        using var buffer = new MemoryStream();
        http.Features.Set<IHttpResponseBodyFeature>(new StreamResponseBodyFeature(buffer));
        try
        {
            await next(http);
        }
        finally
        {
            http.Features.Set(original);
        }
        var text = System.Text.Encoding.UTF8.GetString(buffer.ToArray());
        var kept = string.Join('\n', text.Split('\n').Where(line => line.Length == 0 || line[0] == '#' || line.Contains($"tenant=\"{tenant}\"", StringComparison.Ordinal)));
        http.Response.ContentLength = null;
        await http.Response.WriteAsync(kept, http.RequestAborted);
    }

    private sealed class Idle : BackgroundService
    {
        protected override Task ExecuteAsync(CancellationToken ct) => Task.CompletedTask;
    }
}
