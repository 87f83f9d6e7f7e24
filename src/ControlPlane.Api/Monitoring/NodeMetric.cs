namespace ControlPlane.Api.Monitoring;

/// <summary>
/// A gauge holds the value read last; a count holds what happened during one collection interval
/// (CloudWatch's Sum over a period), so it is a gauge in Prometheus too and needs no rate().
/// </summary>
public enum MetricKind { Gauge, Count }

/// <summary>One per-node metric: its snake-case name (CloudWatch's name, or ours where CloudWatch has none) without the prefix.</summary>
public sealed record NodeMetric(string Name, MetricKind Kind, string Help)
{
    public const string Prefix = "controlplane_node_";

    public string FullName => Prefix + Name;

    public static readonly NodeMetric Up = new("up", MetricKind.Gauge, "1 when the node answered its last read, else 0");
    public static readonly NodeMetric CpuUtilization = new("cpu_utilization", MetricKind.Gauge, "CPU used by the node's container, percent of the node type's CPUs (CPUUtilization)");
    public static readonly NodeMetric EngineCpuUtilization = new("engine_cpu_utilization", MetricKind.Gauge, "CPU used by the engine process, percent of one core (EngineCPUUtilization)");
    public static readonly NodeMetric MemoryUsage = new("database_memory_usage_percentage", MetricKind.Gauge, "Memory used by data, percent of maxmemory (DatabaseMemoryUsagePercentage)");
    public static readonly NodeMetric BytesUsed = new("bytes_used_for_cache", MetricKind.Gauge, "Bytes used by the engine's data (BytesUsedForCache)");
    public static readonly NodeMetric CurrConnections = new("curr_connections", MetricKind.Gauge, "Client connections open now (CurrConnections)");
    public static readonly NodeMetric MaxConnections = new("max_connections", MetricKind.Gauge, "The engine's connection limit (maxclients, max_connections)");
    public static readonly NodeMetric NewConnections = new("new_connections", MetricKind.Count, "Connections accepted during the interval (NewConnections)");
    public static readonly NodeMetric RejectedConnections = new("rejected_connections", MetricKind.Count, "Connections refused for the limit during the interval");
    public static readonly NodeMetric Evictions = new("evictions", MetricKind.Count, "Keys evicted for maxmemory during the interval (Evictions)");
    public static readonly NodeMetric CacheHits = new("cache_hits", MetricKind.Count, "Successful key lookups during the interval (CacheHits)");
    public static readonly NodeMetric CacheMisses = new("cache_misses", MetricKind.Count, "Failed key lookups during the interval (CacheMisses)");
    public static readonly NodeMetric CurrItems = new("curr_items", MetricKind.Gauge, "Items (keys) held (CurrItems)");
    public static readonly NodeMetric Operations = new("operations_per_second", MetricKind.Gauge, "Commands processed per second over the interval");
    public static readonly NodeMetric ReplicationLag = new("replication_lag_seconds", MetricKind.Gauge, "How far a replica is behind its primary, in seconds; 0 on a primary (ReplicationLag)");
    public static readonly NodeMetric NetworkIn = new("network_bytes_in", MetricKind.Count, "Bytes the engine read from clients and its primary during the interval (NetworkBytesIn)");
    public static readonly NodeMetric NetworkOut = new("network_bytes_out", MetricKind.Count, "Bytes the engine sent during the interval (NetworkBytesOut)");
    public static readonly NodeMetric IsMaster = new("is_master", MetricKind.Gauge, "1 on a primary, 0 on a replica (IsMaster)");
    public static readonly NodeMetric ClusterStateOk = new("cluster_state_ok", MetricKind.Gauge, "Cluster mode: 1 while CLUSTER INFO says cluster_state:ok");
    public static readonly NodeMetric ClusterSlotsOk = new("cluster_slots_ok", MetricKind.Gauge, "Cluster mode: slots this node sees served (16384 when all are)");

    public static readonly IReadOnlyList<NodeMetric> All =
    [
        Up, CpuUtilization, EngineCpuUtilization, MemoryUsage, BytesUsed, CurrConnections, MaxConnections, NewConnections,
        RejectedConnections, Evictions, CacheHits, CacheMisses, CurrItems, Operations, ReplicationLag, NetworkIn, NetworkOut,
        IsMaster, ClusterStateOk, ClusterSlotsOk,
    ];

    /// <summary>"cpu_utilization" or "controlplane_node_cpu_utilization".</summary>
    public static NodeMetric? Find(string name) =>
        All.FirstOrDefault(m => m.Name == name || m.FullName == name);
}

/// <summary>Where a node sits: the labels of every series it has. Tenant and group are the public names.</summary>
public sealed record NodeLabels(string Tenant, string Group, string Shard, string Node, string AvailabilityZone, string Engine)
{
    /// <summary>The stored (tenant-qualified) group or cluster id, to find the node's series by resource.</summary>
    public required string StoredGroupId { get; init; }

    /// <summary>The stored node id: unique across tenants.</summary>
    public required string StoredNodeId { get; init; }
}

/// <summary>What one read of one node gave.</summary>
public sealed record NodeSample(NodeLabels Labels, DateTimeOffset Time, IReadOnlyDictionary<NodeMetric, double> Values);
