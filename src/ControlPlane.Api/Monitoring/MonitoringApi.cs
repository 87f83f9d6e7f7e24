using ControlPlane.Api.Data;
using ControlPlane.Api.Endpoints;
using ControlPlane.Api.Engines;
using ControlPlane.Api.Http;
using ControlPlane.Domain;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using StackExchange.Redis;

namespace ControlPlane.Api.Monitoring;

/// <summary>Time series of every node's metrics (for people and scripts without Prometheus) and the engines' slow logs.</summary>
public static class MonitoringApi
{
    private const int MaxSlowLogEntries = 128;

    public static IEndpointRouteBuilder MapMonitoringApi(this IEndpointRouteBuilder app)
    {
        app.MapGet("/v1/replication-groups/{id}/metrics", GroupMetrics).WithTags("Replication groups").WithName("GetReplicationGroupMetrics")
            .WithSummary("Every node's metrics as time series (the last 24 hours at 60 s)").ProducesProblem(400).ProducesProblem(404);
        app.MapGet("/v1/cache-clusters/{id}/metrics", ClusterMetrics).WithTags("Cache clusters").WithName("GetCacheClusterMetrics")
            .WithSummary("Every node's metrics as time series (the last 24 hours at 60 s)").ProducesProblem(400).ProducesProblem(404);
        app.MapGet("/v1/replication-groups/{id}/slow-log", SlowLog).WithTags("Replication groups").WithName("GetReplicationGroupSlowLog")
            .WithSummary("The engine's slow log of one node, or of every node, newest first").ProducesProblem(400).ProducesProblem(404).ProducesProblem(503);
        return app;
    }

    private static async Task<Results<Ok<MetricSeriesPageResponse>, ProblemHttpResult>> GroupMetrics(
        string id, string? name, string? since, string? until, int? period, ControlPlaneDbContext db, Caller caller,
        NodeMetricsStore store, TimeProvider time, CancellationToken ct)
    {
        var stored = caller.Internal(Identifiers.Normalize(id));
        if (!await db.ReplicationGroups.AnyAsync(g => g.Id == stored, ct))
            return Problems.NotFound(ErrorCodes.ReplicationGroupNotFound, $"Replication group {Identifiers.Normalize(id)} does not exist.");
        return Series(stored, name, since, until, period, store, time);
    }

    private static async Task<Results<Ok<MetricSeriesPageResponse>, ProblemHttpResult>> ClusterMetrics(
        string id, string? name, string? since, string? until, int? period, ControlPlaneDbContext db, Caller caller,
        NodeMetricsStore store, TimeProvider time, CancellationToken ct)
    {
        var stored = caller.Internal(Identifiers.Normalize(id));
        if (!await db.CacheClusters.AnyAsync(c => c.Id == stored, ct))
            return Problems.NotFound(ErrorCodes.CacheClusterNotFound, $"Cache cluster {Identifiers.Normalize(id)} does not exist.");
        return Series(stored, name, since, until, period, store, time);
    }

    private static Results<Ok<MetricSeriesPageResponse>, ProblemHttpResult> Series(
        string storedId, string? name, string? sinceText, string? untilText, int? period, NodeMetricsStore store, TimeProvider time)
    {
        IReadOnlyList<NodeMetric> metrics = NodeMetric.All;
        if (name is not null)
        {
            if (NodeMetric.Find(name) is not { } metric)
                return Problems.Invalid("name", $"name must be one of {string.Join(", ", NodeMetric.All.Select(m => m.Name))}.");
            metrics = [metric];
        }
        var seconds = period ?? 60;
        if (seconds < 60 || seconds > 86_400 || seconds % 60 != 0)
            return Problems.Invalid("period", "period must be a multiple of 60 seconds, at most 86400.");
        var now = time.GetUtcNow();
        if (EventsApi.ParseTime("since", sinceText, out var since) is { } badSince)
            return badSince;
        if (EventsApi.ParseTime("until", untilText, out var until) is { } badUntil)
            return badUntil;
        var from = since ?? now.AddHours(-1);
        var oldest = now.AddMinutes(-NodeMetricsStore.MinutesKept);
        if (from < oldest)
            from = oldest;
        var to = until is { } u && u < now ? u : now;
        if (to < from)
            return Problems.Invalid("until", "until must not be before since.");

        var series = store.NodesOf(storedId).SelectMany(node => metrics.Select(metric => (node, metric, points: store.Points(node.StoredNodeId, metric, from, to, seconds))))
            .Where(s => s.points.Count > 0)
            .Select(s => new MetricSeriesResponse(s.node.Node, s.node.Shard is { Length: > 0 } shard ? shard : null, s.node.AvailabilityZone, s.metric.Name,
                s.points.Select(p => new MetricPointResponse(p.Time, Math.Round(p.Value, 4))).ToList()))
            .ToList();
        return TypedResults.Ok(new MetricSeriesPageResponse(TenantNames.Public(storedId), seconds, from, to, series));
    }

    private static async Task<Results<Ok<SlowLogResponse>, ProblemHttpResult>> SlowLog(
        string id, string? nodeId, int? limit, ControlPlaneDbContext db, Caller caller, IRedisAdmin redis, CancellationToken ct)
    {
        var stored = caller.Internal(Identifiers.Normalize(id));
        var nodes = await db.RedisNodes.AsNoTracking().Where(n => n.ReplicationGroupId == stored && n.Port != null && n.Host != null).OrderBy(n => n.Id).ToListAsync(ct);
        if (nodes.Count == 0 && !await db.ReplicationGroups.AnyAsync(g => g.Id == stored, ct))
            return Problems.NotFound(ErrorCodes.ReplicationGroupNotFound, $"Replication group {Identifiers.Normalize(id)} does not exist.");
        var count = limit ?? 10;
        if (count is < 1 or > MaxSlowLogEntries)
            return Problems.Invalid("limit", $"limit must be between 1 and {MaxSlowLogEntries}.");
        if (nodeId is not null)
        {
            var wanted = caller.Internal(Identifiers.Normalize(nodeId));
            nodes = nodes.Where(n => n.Id == wanted).ToList();
            if (nodes.Count == 0)
                return Problems.Invalid("nodeId", $"Replication group {Identifiers.Normalize(id)} has no node {nodeId}.");
        }
        var reads = await Task.WhenAll(nodes.Select(async node =>
        {
            try
            {
                var entries = await redis.SlowLogAsync(node.Host!, node.Port!.Value, count, ct);
                return entries.Select(e => new SlowLogEntryResponse(TenantNames.Public(node.Id), e.Id, e.Time, e.DurationMicros, e.Command, e.ClientAddress)).ToList();
            }
            catch (Exception e) when (e is RedisException or TimeoutException or ObjectDisposedException)
            {
                return null;
            }
        }));
        // One node asked for and silent is an error; of all nodes, those that answered are shown.
        if (nodeId is not null && reads[0] is null)
            return Problems.Create(StatusCodes.Status503ServiceUnavailable, ErrorCodes.ServiceUnavailable, $"Node {nodeId} does not answer; try again later.");
        var items = reads.OfType<List<SlowLogEntryResponse>>().SelectMany(r => r).OrderByDescending(e => e.Time).ThenBy(e => e.NodeId, StringComparer.Ordinal)
            .ThenByDescending(e => e.Id).Take(count).ToList();
        return TypedResults.Ok(new SlowLogResponse(items));
    }
}
