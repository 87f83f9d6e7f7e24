using System.Globalization;
using System.Threading.RateLimiting;
using ControlPlane.Api.Options;
using ControlPlane.Domain;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.Options;

namespace ControlPlane.Api.Http;

/// <summary>
/// Rate limiting per client (remote address) on /v1 and the query API (POST /): a token bucket of ControlPlane:Http:Burst
/// requests refilled at RequestsPerSecond. Over it: 429 ThrottlingException with Retry-After, as
/// ElastiCache throttles its API. Health and the OpenAPI document are never throttled.
/// </summary>
public static class Throttling
{
    public static IServiceCollection AddThrottling(this IServiceCollection services)
    {
        services.AddRateLimiter(_ => { });
        services.AddSingleton<GlobalLimiterOwner>();
        services.AddOptions<RateLimiterOptions>().Configure<IOptions<ControlPlaneOptions>>((limiter, options) =>
        {
            var http = options.Value.Http;
            limiter.GlobalLimiter = PartitionedRateLimiter.Create<HttpContext, string>(context =>
                http.RequestsPerSecond > 0 && (context.Request.Path.StartsWithSegments("/v1") || QueryApi.QueryApiEndpoint.Serves(context.Request))
                    ? RateLimitPartition.GetTokenBucketLimiter(context.Connection.RemoteIpAddress?.ToString() ?? "local", _ => new TokenBucketRateLimiterOptions
                    {
                        TokenLimit = http.Burst,
                        TokensPerPeriod = http.RequestsPerSecond,
                        ReplenishmentPeriod = TimeSpan.FromSeconds(1),
                        QueueLimit = 0,
                    })
                    : RateLimitPartition.GetNoLimiter(""));
            limiter.OnRejected = async (rejected, _) =>
            {
                var retryAfter = rejected.Lease.TryGetMetadata(MetadataName.RetryAfter, out var wait) ? wait : TimeSpan.FromSeconds(1);
                var seconds = Math.Max(1, (int)Math.Ceiling(retryAfter.TotalSeconds));
                rejected.HttpContext.Response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
                if (QueryApi.QueryApiEndpoint.Serves(rejected.HttpContext.Request))
                {
                    // The query API throttles as ElastiCache does: error XML with the code the SDKs retry on.
                    await QueryApi.QueryApiEndpoint.WriteFaultAsync(rejected.HttpContext, new QueryApi.QueryFault(StatusCodes.Status400BadRequest, "Throttling",
                        $"Rate exceeded: at most {http.RequestsPerSecond} requests per second per client."));
                    return;
                }
                await Problems.Create(StatusCodes.Status429TooManyRequests, ErrorCodes.ThrottlingException,
                    $"Rate exceeded: at most {http.RequestsPerSecond} requests per second per client; retry after {seconds} s.").ExecuteAsync(rejected.HttpContext);
            };
        });
        return services;
    }

    /// <summary>
    /// The limiter in the pipeline. Not ASP.NET Core's UseRateLimiter: its middleware builds a second,
    /// per-endpoint limiter that nothing disposes, whose heartbeat timer holds the whole application
    /// (every host a test run or a simulation starts, hundreds) for as long as the process lives.
    /// </summary>
    public static IApplicationBuilder UseThrottling(this IApplicationBuilder app)
    {
        var limiter = app.ApplicationServices.GetRequiredService<GlobalLimiterOwner>().Options;
        return app.Use(async (context, next) =>
        {
            using var lease = limiter.GlobalLimiter is { } global ? await global.AcquireAsync(context, 1, context.RequestAborted) : null;
            if (lease is null || lease.IsAcquired)
            {
                await next(context);
                return;
            }
            context.Response.StatusCode = limiter.RejectionStatusCode;
            if (limiter.OnRejected is { } rejected)
                await rejected(new OnRejectedContext { HttpContext = context, Lease = lease }, context.RequestAborted);
        });
    }

    /// <summary>The limiter's options, and its disposal with the host (ASP.NET Core does not dispose it).</summary>
    private sealed class GlobalLimiterOwner(IOptions<RateLimiterOptions> options) : IDisposable
    {
        public RateLimiterOptions Options => options.Value;

        public void Dispose() => options.Value.GlobalLimiter?.Dispose();
    }
}
