using ControlPlane.Domain;
using ControlPlane.Domain.Planning;

namespace ControlPlane.Api.Data;

// Entities are the stored shape; requests and responses are separate records in Contracts/.
// The API writes the desired fields and bumps Generation; the reconciler writes status, roles,
// endpoints and ObservedGeneration. Version maps to Postgres xmin and backs ETag/If-Match.

public sealed class ReplicationGroupEntity
{
    /// <summary>The stored, tenant-qualified id (<see cref="TenantNames"/>); the API shows the public part.</summary>
    public required string Id { get; set; }
    public string Tenant { get; set; } = TenantNames.Default;
    public string Description { get; set; } = "";
    /// <summary>redis or valkey.</summary>
    public string Engine { get; set; } = Catalog.Redis;
    public required string EngineVersion { get; set; }
    public required string NodeType { get; set; }
    public ClusterMode ClusterMode { get; set; }
    public int NumShards { get; set; }
    public int ReplicasPerShard { get; set; }
    public bool AutomaticFailover { get; set; }
    public bool MultiAz { get; set; }
    public bool TransitEncryption { get; set; }
    /// <summary>required or preferred with transit encryption, null without: what the nodes are brought to (<see cref="RedisNodeEntity.TransitEncryptionMode"/>).</summary>
    public string? TransitEncryptionMode { get; set; }
    /// <summary>PBKDF2 hash of the auth token; the token itself is never stored in plain text.</summary>
    public string? AuthTokenHash { get; set; }
    /// <summary>The tokens the default user accepts, newest first (two while rotating), encrypted (<see cref="Security.ClientSecrets"/>).</summary>
    public string? AuthTokens { get; set; }
    public DateTimeOffset? AuthTokenLastModifiedAt { get; set; }
    /// <summary>The stored id of the user group (RBAC) whose users the nodes have instead of an open or token default user.</summary>
    public string? UserGroupId { get; set; }
    /// <summary>Written by the reconciler: the user group revision every node of the group holds (see <see cref="UserGroupEntity.Revision"/>).</summary>
    public string? ClientAccessApplied { get; set; }
    public int SnapshotRetentionLimit { get; set; }
    public string? SnapshotWindow { get; set; }
    public string? RestoreFromSnapshot { get; set; }
    /// <summary>Stored parameter group name (tenant-qualified, or a shared default.*); null: the default of its family and cluster mode.</summary>
    public string? ParameterGroupName { get; set; }
    /// <summary>ddd:hh:mm-ddd:hh:mm (UTC): changes that replace nodes wait for it unless applied immediately.</summary>
    public string? PreferredMaintenanceWindow { get; set; }
    /// <summary>Node-replacing changes waiting for the maintenance window (stored as JSON, as pendingChanges), and when they start.</summary>
    public PendingChanges? ScheduledChanges { get; set; }
    public DateTimeOffset? ScheduledAt { get; set; }
    public string? FinalSnapshotName { get; set; }
    /// <summary>The stable endpoint of a cluster-mode-disabled group: a proxy that follows the primary.</summary>
    public string? EndpointHost { get; set; }
    public int? PrimaryEndpointPort { get; set; }
    public int? ReaderEndpointPort { get; set; }
    public GroupStatus Status { get; set; }
    /// <summary>The fields a PATCH asked for that the reconciler has not applied yet (stored as JSON).</summary>
    public PendingChanges? PendingChanges { get; set; }
    /// <summary>The highest node ordinal the group has handed out, in any shard: node ids are never reused.</summary>
    public int LastNodeOrdinal { get; set; }
    public long Generation { get; set; }
    public long ObservedGeneration { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset UpdatedAt { get; set; }
    public DateTimeOffset? ExpiresAt { get; set; }
    /// <summary>The resource's tags, a JSON object of key to value (ElastiCache's cost allocation tags).</summary>
    public string? Tags { get; set; }
    /// <summary>The W3C traceparent of the API request that last changed the group: the reconciler's work for it joins that trace.</summary>
    public string? TraceParent { get; set; }
    public uint Version { get; set; }
    public List<ShardEntity> Shards { get; set; } = [];
}

public sealed class ShardEntity
{
    public required string ReplicationGroupId { get; set; }
    public required string Id { get; set; }
    public required string Slots { get; set; }
    public ShardStatus Status { get; set; }
    public List<RedisNodeEntity> Nodes { get; set; } = [];
}

public sealed class RedisNodeEntity
{
    public required string Id { get; set; }
    public required string ReplicationGroupId { get; set; }
    public required string ShardId { get; set; }
    public NodeRole Role { get; set; }
    public required string AvailabilityZone { get; set; }
    public NodeStatus Status { get; set; }
    public string? Host { get; set; }
    public int? Port { get; set; }
    /// <summary>Set when the node took over a pre-started container of the warm pool: that container's pool id.</summary>
    public string? PoolId { get; set; }
    /// <summary>The node's own type: during a rolling node-type change the group holds both.</summary>
    public required string NodeType { get; set; }
    /// <summary>The node's own engine and version: during an in-place upgrade the group holds both.</summary>
    public string Engine { get; set; } = Catalog.Redis;
    public string EngineVersion { get; set; } = "";
    /// <summary>The failed node this one replaces; null for a node the group was created or scaled with.</summary>
    public string? ReplacesNodeId { get; set; }
    /// <summary>in-sync (null), applying or pending-reboot: whether the node runs its parameter group's values; the reconciler's word.</summary>
    public string? ParameterGroupStatus { get; set; }
    /// <summary>What the node runs: null plain text on <see cref="Port"/>; preferred: both there (a multiplexer in front, see NodeMultiplexer); required: TLS only.</summary>
    public string? TransitEncryptionMode { get; set; }
    /// <summary>In preferred mode, the node's inner plain-text listener behind its multiplexer (leased as <c>{Id}-plain</c>); kept until the multiplexer is gone.</summary>
    public int? PlainPort { get; set; }
    /// <summary>In preferred mode, the node's inner TLS listener behind its multiplexer (leased as <c>{Id}-tls</c>); kept until the multiplexer is gone.</summary>
    public int? InnerTlsPort { get; set; }
    /// <summary>When the node's certificate is due for renewal; null without TLS or before it got one.</summary>
    public DateTimeOffset? CertificateRenewAt { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
}

public sealed class CacheClusterEntity
{
    /// <summary>The stored, tenant-qualified id (<see cref="TenantNames"/>).</summary>
    public required string Id { get; set; }
    public string Tenant { get; set; } = TenantNames.Default;
    public string Engine { get; set; } = Catalog.Memcached;
    public required string EngineVersion { get; set; }
    public required string NodeType { get; set; }
    public int NumNodes { get; set; }
    public AzMode AzMode { get; set; }
    public List<string>? PreferredAvailabilityZones { get; set; }
    /// <summary>Stored parameter group name (tenant-qualified, or default.memcached1.6); null: the family's default.</summary>
    public string? ParameterGroupName { get; set; }
    /// <summary>The configuration endpoint (auto discovery) on the control plane's host, once leased.</summary>
    public string? DiscoveryHost { get; set; }
    public int? DiscoveryPort { get; set; }
    /// <summary>TLS on every node's port (memcached -Z); set at create only.</summary>
    public bool TransitEncryption { get; set; }
    /// <summary>The highest node ordinal the cluster has ever used, so a node id is never handed out twice, even after the newest nodes were removed.</summary>
    public int LastNodeOrdinal { get; set; }
    /// <summary>ddd:hh:mm-ddd:hh:mm (UTC): when changes that replace or restart nodes run unless applied immediately.</summary>
    public string? PreferredMaintenanceWindow { get; set; }
    /// <summary>Node-replacing changes waiting for the maintenance window (stored as JSON, the fields as PATCH takes them), and when the window opens.</summary>
    public PendingChanges? ScheduledChanges { get; set; }
    public DateTimeOffset? ScheduledAt { get; set; }
    public CacheClusterStatus Status { get; set; }
    public PendingChanges? PendingChanges { get; set; }
    public long Generation { get; set; }
    public long ObservedGeneration { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset UpdatedAt { get; set; }
    public DateTimeOffset? ExpiresAt { get; set; }
    /// <summary>The resource's tags, a JSON object of key to value (ElastiCache's cost allocation tags).</summary>
    public string? Tags { get; set; }
    /// <summary>The W3C traceparent of the API request that last changed the cluster.</summary>
    public string? TraceParent { get; set; }
    public uint Version { get; set; }
    public List<CacheNodeEntity> Nodes { get; set; } = [];
}

public sealed class CacheNodeEntity
{
    public required string Id { get; set; }
    public required string CacheClusterId { get; set; }
    public required string AvailabilityZone { get; set; }
    public NodeStatus Status { get; set; }
    public string? Host { get; set; }
    public int? Port { get; set; }
    /// <summary>in-sync (null) or pending-reboot: whether the node's container was started with its parameter group's values.</summary>
    public string? ParameterGroupStatus { get; set; }
    /// <summary>When the node's certificate is due for renewal; null without TLS or before it got one.</summary>
    public DateTimeOffset? CertificateRenewAt { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
}

public sealed class SnapshotEntity
{
    /// <summary>The stored, tenant-qualified name (<see cref="TenantNames"/>).</summary>
    public required string Name { get; set; }
    public string Tenant { get; set; } = TenantNames.Default;
    public required string ReplicationGroupId { get; set; }
    public SnapshotStatus Status { get; set; }
    public SnapshotSource Source { get; set; }
    public ClusterMode ClusterMode { get; set; }
    /// <summary>The engine that wrote the files: a Redis 7.0 file loads into Valkey 8.0, not the other way round.</summary>
    public string Engine { get; set; } = Catalog.Redis;
    public required string EngineVersion { get; set; }
    public required string NodeType { get; set; }
    public int NumShards { get; set; }
    /// <summary>For a copy: the snapshot whose files are copied.</summary>
    public string? CopiedFrom { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    /// <summary>The resource's tags, a JSON object of key to value (ElastiCache's cost allocation tags).</summary>
    public string? Tags { get; set; }
    public uint Version { get; set; }
    public List<SnapshotFileEntity> Files { get; set; } = [];

    /// <summary>A snapshot of the group as it is now, to be taken (creating): manual, automated or a delete's final one.</summary>
    public static SnapshotEntity Taking(ReplicationGroupEntity group, string name, SnapshotSource source, DateTimeOffset now) => new()
    {
        Name = name, Tenant = group.Tenant, ReplicationGroupId = group.Id, Status = SnapshotStatus.Creating, Source = source,
        ClusterMode = group.ClusterMode, Engine = group.Engine, EngineVersion = group.EngineVersion, NodeType = group.NodeType, NumShards = group.NumShards, CreatedAt = now,
    };
}

public sealed class SnapshotFileEntity
{
    public required string SnapshotName { get; set; }
    public required string ShardId { get; set; }
    public required string Slots { get; set; }
    public long SizeBytes { get; set; }
    public required string Sha256 { get; set; }
}

public sealed class EventEntity
{
    public long Id { get; set; }
    public DateTimeOffset Time { get; set; }
    public SourceType SourceType { get; set; }
    public required string SourceId { get; set; }
    public required string Message { get; set; }
    public string Tenant { get; set; } = TenantNames.Default;
    /// <summary>The key id of the API call that asked for the change; null for what the control plane did on its own.</summary>
    public string? Principal { get; set; }
}

public enum ApiRole { Viewer, Operator, Admin }

/// <summary>An API key: <c>cpk_&lt;KeyId&gt;_&lt;secret&gt;</c>. Only a salted HMAC of the secret is kept.</summary>
public sealed class ApiKeyEntity
{
    public required string KeyId { get; set; }
    public required string Name { get; set; }
    public ApiRole Role { get; set; }
    public required string Tenant { get; set; }
    public required string SecretHash { get; set; }
    /// <summary>The secret encrypted with Data Protection, for Signature Version 4; null for keys made before it existed.</summary>
    public string? SecretProtected { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset? RevokedAt { get; set; }
}

/// <summary>The first answer to a create with an Idempotency-Key, replayed for the same key and body.</summary>
public sealed class IdempotencyRecordEntity
{
    public required string Key { get; set; }
    public required string RequestHash { get; set; }
    public int StatusCode { get; set; }
    public required string ResponseBody { get; set; }
    public string? Location { get; set; }
    public string? ETag { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
}

/// <summary>One test failover asked for; the count over a rolling 24 hours is the budget.</summary>
public sealed class TestFailoverEntity
{
    public long Id { get; set; }
    public required string ReplicationGroupId { get; set; }
    public required string ShardId { get; set; }
    public DateTimeOffset RequestedAt { get; set; }
    public DateTimeOffset? CompletedAt { get; set; }
}

/// <summary>
/// One manual snapshot asked for, kept apart from the snapshot record so a deleted snapshot still
/// counts against the rolling 24-hour quota. Rows older than a day are pruned by the housekeeping.
/// </summary>
public sealed class SnapshotRequestEntity
{
    public long Id { get; set; }
    public required string ReplicationGroupId { get; set; }
    public required string SnapshotName { get; set; }
    public DateTimeOffset RequestedAt { get; set; }
}

/// <summary>A port handed to a node on a host; unique per host. Redis Cluster also takes port + 10000 for its bus.</summary>
public sealed class PortLeaseEntity
{
    public required string Host { get; set; }
    public int Port { get; set; }
    public required string NodeId { get; set; }
}

/// <summary>
/// One slot of a group's migration plan that has not moved yet: stored before anything moves and
/// deleted, with the shards' slot lists updated, as each slot is switched. A control plane that
/// restarts finishes what is left.
/// </summary>
public sealed class SlotMoveEntity
{
    public required string ReplicationGroupId { get; set; }
    public int Slot { get; set; }
    public required string FromShardId { get; set; }
    public required string ToShardId { get; set; }
}

/// <summary>
/// A tenant's parameter group: a family and the values the user set (a JSON object of name to value);
/// every other parameter has the family's default. The shared default.* groups are not stored.
/// </summary>
public sealed class ParameterGroupEntity
{
    /// <summary>The stored, tenant-qualified name (<see cref="TenantNames"/>).</summary>
    public required string Name { get; set; }
    public string Tenant { get; set; } = TenantNames.Default;
    public required string Family { get; set; }
    public string Description { get; set; } = "";
    public string Values { get; set; } = "{}";
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset UpdatedAt { get; set; }
    public uint Version { get; set; }
}
