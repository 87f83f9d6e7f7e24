using System.Diagnostics;
using ControlPlane.Api.Data;
using ControlPlane.Api.Engines;
using ControlPlane.Api.Http;
using ControlPlane.Api.Reconciliation;
using ControlPlane.Api.Runtime;
using ControlPlane.Domain;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace ControlPlane.Api.Monitoring;

/// <summary>
/// Reads every node at the configured interval (INFO or memcached's stats, and its container's
/// statistics) and hands the round to <see cref="NodeMetricsStore"/>. A few nodes at a time, each
/// read bounded by short timeouts, so the reconciler's probes and actions never queue behind it.
/// </summary>
public sealed partial class NodeMetricsCollector(
    IServiceScopeFactory scopes,
    NodeMetricsStore store,
    IRedisAdmin redis,
    IMemcachedAdmin memcached,
    ContainerStatsReader containers,
    ZoneHealth zoneHealth,
    NodeSpecs specs,
    Catalog catalog,
    TimeProvider time,
    IOptions<MetricsOptions> options,
    ILogger<NodeMetricsCollector> logger) : BackgroundService
{
    private readonly Dictionary<string, RawRead> _previous = [];

    protected override async Task ExecuteAsync(CancellationToken ct)
    {
        using var timer = new PeriodicTimer(options.Value.Interval, time);
        try
        {
            do
            {
                try
                {
                    await CollectAsync(ct);
                }
                catch (Exception e) when (!ct.IsCancellationRequested)
                {
                    LogRoundFailed(logger, e);
                }
            }
            while (await timer.WaitForNextTickAsync(ct));
        }
        catch (OperationCanceledException)
        {
            // Shutting down.
        }
    }

    /// <summary>One round: every node once.</summary>
    public async Task CollectAsync(CancellationToken ct)
    {
        var clock = Stopwatch.StartNew();
        var (targets, state) = await LoadAsync(ct);
        var reachable = await zoneHealth.ProbeAsync(ct);
        // Engines are read a few at a time; container statistics all at once (they wait on the engine's tick, not on CPU).
        using var gate = new SemaphoreSlim(options.Value.Concurrency);
        var usages = targets.Select(t => reachable.GetValueOrDefault(t.Labels.AvailabilityZone)
            ? containers.ReadAsync(t.Labels.AvailabilityZone, t.Container, ct)
            : Task.FromResult<ContainerUsage?>(null)).ToList();
        var reads = await Task.WhenAll(targets.Select(async (target, i) =>
        {
            IReadOnlyDictionary<string, string>? fields;
            await gate.WaitAsync(ct);
            try
            {
                fields = target.Labels.Engine == Catalog.Redis
                    ? await redis.InfoAsync(target.Host, target.Port, target.Cluster, ct)
                    : await memcached.StatsAsync(target.Host, target.Port, ct);
            }
            finally
            {
                gate.Release();
            }
            return new RawRead(target, time.GetUtcNow(), fields, await usages[i]);
        }));

        var samples = Samples(reads);
        var shards = state.Shards.Select(s => s with
        {
            Primaries = samples.Count(x => x.Labels.Tenant == s.Tenant && x.Labels.Group == s.Group && x.Labels.Shard == s.Shard
                && x.Values.GetValueOrDefault(NodeMetric.IsMaster) == 1 && x.Values.GetValueOrDefault(NodeMetric.Up) == 1),
        }).ToList();
        store.Record(samples, state with { ZonesReachable = reachable, Shards = shards }, time.GetUtcNow());
        LogRound(logger, samples.Count, clock.ElapsedMilliseconds);
    }

    private sealed record Target(NodeLabels Labels, string Host, int Port, string Container, double Cpus, bool Cluster);

    /// <summary>What one read gave: the engine's fields (null: no answer) and the container's usage.</summary>
    private sealed record RawRead(Target Target, DateTimeOffset Time, IReadOnlyDictionary<string, string>? Fields, ContainerUsage? Usage);

    private async Task<(List<Target>, ControlPlaneState)> LoadAsync(CancellationToken ct)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<ControlPlaneDbContext>();
        var groups = await db.ReplicationGroups.AsNoTracking().Include(g => g.Shards).ThenInclude(s => s.Nodes).AsSplitQuery().ToListAsync(ct);
        var clusters = await db.CacheClusters.AsNoTracking().Include(c => c.Nodes).ToListAsync(ct);
        var withRetention = groups.Where(g => g.SnapshotRetentionLimit > 0).Select(g => g.Id).ToList();
        var newestSnapshots = await db.Snapshots.AsNoTracking()
            .Where(s => withRetention.Contains(s.ReplicationGroupId) && s.Status == SnapshotStatus.Available)
            .GroupBy(s => s.ReplicationGroupId).Select(g => new { Group = g.Key, Newest = g.Max(s => s.CreatedAt) }).ToDictionaryAsync(g => g.Group, g => g.Newest, ct);

        var targets = new List<Target>();
        foreach (var group in groups)
            foreach (var node in group.Shards.SelectMany(s => s.Nodes).Where(n => n.Port is not null && n.Host is not null && n.Status != NodeStatus.Deleting))
                targets.Add(new Target(
                    new NodeLabels(group.Tenant, TenantNames.Public(group.Id), node.ShardId, TenantNames.Public(node.Id), node.AvailabilityZone, Catalog.Redis)
                    { StoredGroupId = group.Id, StoredNodeId = node.Id },
                    node.Host!, node.Port!.Value, specs.ContainerName(node.PoolId ?? node.Id), Cpus(node.NodeType), group.ClusterMode == ClusterMode.Enabled));
        foreach (var cluster in clusters)
            foreach (var node in cluster.Nodes.Where(n => n.Port is not null && n.Host is not null && n.Status != NodeStatus.Deleting))
                targets.Add(new Target(
                    new NodeLabels(cluster.Tenant, TenantNames.Public(cluster.Id), "", TenantNames.Public(node.Id), node.AvailabilityZone, Catalog.Memcached)
                    { StoredGroupId = cluster.Id, StoredNodeId = node.Id },
                    node.Host!, node.Port!.Value, specs.ContainerName(node.Id), Cpus(cluster.NodeType), false));

        var now = time.GetUtcNow();
        var byStatus = groups.GroupBy(g => (Catalog.Redis, JsonBodies.EnumText(g.Status))).Select(g => (g.Key, Count: g.Count()))
            .Concat(clusters.GroupBy(c => (Catalog.Memcached, JsonBodies.EnumText(c.Status))).Select(g => (g.Key, Count: g.Count())))
            .ToDictionary(x => x.Key, x => x.Count);
        var shards = groups.SelectMany(g => g.Shards.Select(s => new ShardState(g.Tenant, TenantNames.Public(g.Id), s.Id, 0,
            s.Nodes.Count(n => n.Role == NodeRole.Replica && n.Status != NodeStatus.Deleting)))).ToList();
        var ages = groups.Where(g => g.SnapshotRetentionLimit > 0 && g.Status != GroupStatus.Creating)
            .Select(g => new SnapshotAge(g.Tenant, TenantNames.Public(g.Id), (now - newestSnapshots.GetValueOrDefault(g.Id, g.CreatedAt)).TotalSeconds)).ToList();
        return (targets, new ControlPlaneState(byStatus, new Dictionary<string, bool>(), shards, ages));
    }

    private double Cpus(string nodeType) => catalog.NodeTypes.FirstOrDefault(t => t.Name == nodeType)?.Cpus ?? 1;

    private List<NodeSample> Samples(IReadOnlyList<RawRead> reads)
    {
        var samples = new List<NodeSample>();
        // A replica's lag is judged against its primary's offset of the same round.
        var primaryOffsets = reads.Where(r => r.Fields?.GetValueOrDefault("role") == "master")
            .GroupBy(r => (r.Target.Labels.StoredGroupId, r.Target.Labels.Shard))
            .ToDictionary(g => g.Key, g => g.Max(r => Number(r.Fields!, "master_repl_offset")));
        foreach (var read in reads)
        {
            var values = new Dictionary<NodeMetric, double> { [NodeMetric.Up] = read.Fields is null ? 0 : 1 };
            var previous = _previous.GetValueOrDefault(read.Target.Labels.StoredNodeId);
            var seconds = previous is null ? 0 : (read.Time - previous.Time).TotalSeconds;
            if (read.Usage is { } usage && previous?.Usage is { } before && seconds > 0 && usage.CpuNanoseconds >= before.CpuNanoseconds)
                values[NodeMetric.CpuUtilization] = (usage.CpuNanoseconds - before.CpuNanoseconds) / (seconds * 1e9 * read.Target.Cpus) * 100;
            if (read.Fields is { } fields)
            {
                if (read.Target.Labels.Engine == Catalog.Redis)
                    RedisValues(read, fields, primaryOffsets, values);
                else
                    MemcachedValues(fields, values);
                if (previous?.Fields is { } earlier && seconds > 0)
                    Deltas(read.Target.Labels.Engine, fields, earlier, seconds, values);
            }
            samples.Add(new NodeSample(read.Target.Labels, read.Time, values));
        }
        // Counts need the previous read of the same node; a node that did not answer keeps its last good one.
        foreach (var read in reads)
            if (read.Fields is not null || !_previous.ContainsKey(read.Target.Labels.StoredNodeId))
                _previous[read.Target.Labels.StoredNodeId] = read;
        foreach (var gone in _previous.Keys.Except(reads.Select(r => r.Target.Labels.StoredNodeId)).ToList())
            _previous.Remove(gone);
        return samples;
    }

    private static void RedisValues(RawRead read, IReadOnlyDictionary<string, string> f, Dictionary<(string, string), double> primaryOffsets, Dictionary<NodeMetric, double> v)
    {
        var primary = f.GetValueOrDefault("role") == "master";
        v[NodeMetric.IsMaster] = primary ? 1 : 0;
        v[NodeMetric.BytesUsed] = Number(f, "used_memory");
        if (Number(f, "maxmemory") is > 0 and var max)
            v[NodeMetric.MemoryUsage] = Number(f, "used_memory") / max * 100;
        v[NodeMetric.CurrConnections] = Number(f, "connected_clients");
        if (f.ContainsKey("maxclients"))
            v[NodeMetric.MaxConnections] = Number(f, "maxclients");
        v[NodeMetric.CurrItems] = f.Where(x => x.Key.StartsWith("db", StringComparison.Ordinal) && x.Key.Length > 2 && x.Key[2..].All(char.IsAsciiDigit))
            .Sum(x => x.Value.Split(',').Select(p => p.Split('=')).Where(kv => kv.Length == 2 && kv[0] == "keys").Select(kv => Parse(kv[1])).FirstOrDefault());
        if (primary)
            v[NodeMetric.ReplicationLag] = 0;
        else if (f.GetValueOrDefault("master_link_status") != "up")
            v[NodeMetric.ReplicationLag] = Number(f, "master_link_down_since_seconds");
        else
        {
            // Behind its primary's offset: as far behind as the last byte it got from it; level: none.
            var behind = primaryOffsets.TryGetValue((read.Target.Labels.StoredGroupId, read.Target.Labels.Shard), out var offset)
                && offset > Number(f, "slave_repl_offset");
            v[NodeMetric.ReplicationLag] = behind ? Math.Max(1, Number(f, "master_last_io_seconds_ago")) : 0;
        }
        if (f.ContainsKey("cluster_state"))
        {
            v[NodeMetric.ClusterStateOk] = f["cluster_state"] == "ok" ? 1 : 0;
            v[NodeMetric.ClusterSlotsOk] = Number(f, "cluster_slots_ok");
        }
    }

    private static void MemcachedValues(IReadOnlyDictionary<string, string> f, Dictionary<NodeMetric, double> v)
    {
        v[NodeMetric.BytesUsed] = Number(f, "bytes");
        if (Number(f, "limit_maxbytes") is > 0 and var max)
            v[NodeMetric.MemoryUsage] = Number(f, "bytes") / max * 100;
        v[NodeMetric.CurrConnections] = Number(f, "curr_connections");
        v[NodeMetric.MaxConnections] = Number(f, "max_connections");
        v[NodeMetric.CurrItems] = Number(f, "curr_items");
    }

    /// <summary>Counts over the interval; a counter that went down (the engine restarted) counts from zero.</summary>
    private static void Deltas(string engine, IReadOnlyDictionary<string, string> now, IReadOnlyDictionary<string, string> before, double seconds, Dictionary<NodeMetric, double> v)
    {
        double Delta(params string[] keys)
        {
            var (current, earlier) = (keys.Sum(k => Number(now, k)), keys.Sum(k => Number(before, k)));
            return current >= earlier ? current - earlier : current;
        }
        var redisEngine = engine == Catalog.Redis;
        v[NodeMetric.EngineCpuUtilization] = Delta(redisEngine ? ["used_cpu_sys", "used_cpu_user"] : ["rusage_system", "rusage_user"]) / seconds * 100;
        v[NodeMetric.NewConnections] = Delta(redisEngine ? "total_connections_received" : "total_connections");
        v[NodeMetric.RejectedConnections] = Delta("rejected_connections");
        v[NodeMetric.Evictions] = Delta(redisEngine ? "evicted_keys" : "evictions");
        v[NodeMetric.CacheHits] = Delta(redisEngine ? "keyspace_hits" : "get_hits");
        v[NodeMetric.CacheMisses] = Delta(redisEngine ? "keyspace_misses" : "get_misses");
        v[NodeMetric.NetworkIn] = Delta(redisEngine ? "total_net_input_bytes" : "bytes_read");
        v[NodeMetric.NetworkOut] = Delta(redisEngine ? "total_net_output_bytes" : "bytes_written");
        v[NodeMetric.Operations] = Delta(redisEngine ? ["total_commands_processed"] : ["cmd_get", "cmd_set", "cmd_touch", "cmd_flush"]) / seconds;
    }

    private static double Number(IReadOnlyDictionary<string, string> fields, string key) => Parse(fields.GetValueOrDefault(key));

    private static double Parse(string? text) =>
        double.TryParse(text, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var value) ? value : 0;

    // deploy/bench/metrics-cost.sh reads this line.
    [LoggerMessage(Level = LogLevel.Debug, Message = "Read {Nodes} nodes in {Milliseconds} ms")]
    private static partial void LogRound(ILogger logger, int nodes, long milliseconds);

    [LoggerMessage(Level = LogLevel.Warning, Message = "A metrics round failed; the next one tries again")]
    private static partial void LogRoundFailed(ILogger logger, Exception e);
}
