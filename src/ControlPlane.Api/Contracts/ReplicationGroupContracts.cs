using ControlPlane.Domain;

namespace ControlPlane.Api.Contracts;

public sealed record EndpointAddress(string Host, int Port);

public sealed record ShardLayout(string Slots, string? PrimaryAz = null, IReadOnlyList<string>? ReplicaAzs = null);

/// <summary>Body of POST /v1/replication-groups; absent fields take the contract's defaults.</summary>
public sealed record CreateReplicationGroupRequest(
    string Id,
    string? Description = null,
    string? EngineVersion = null,
    string? NodeType = null,
    ClusterMode? ClusterMode = null,
    int? NumShards = null,
    int? ReplicasPerShard = null,
    bool? AutomaticFailover = null,
    bool? MultiAz = null,
    bool? TransitEncryption = null,
    string? AuthToken = null,
    int? SnapshotRetentionLimit = null,
    string? SnapshotWindow = null,
    string? RestoreFromSnapshot = null,
    IReadOnlyList<ShardLayout>? Shards = null,
    DateTimeOffset? ExpiresAt = null,
    string? Tenant = null,
    string? Engine = null,
    string? ParameterGroupName = null,
    string? PreferredMaintenanceWindow = null,
    IReadOnlyList<string>? UserGroupIds = null,
    string? TransitEncryptionMode = null);

/// <summary>Body of PATCH /v1/replication-groups/{id} (JSON merge patch): only the fields present change.</summary>
public sealed record ReplicationGroupPatch(
    string? Description = null,
    string? NodeType = null,
    int? ReplicasPerShard = null,
    int? NumShards = null,
    bool? AutomaticFailover = null,
    bool? MultiAz = null,
    string? AuthToken = null,
    AuthTokenUpdateStrategy? AuthTokenUpdateStrategy = null,
    int? SnapshotRetentionLimit = null,
    string? SnapshotWindow = null,
    DateTimeOffset? ExpiresAt = null,
    string? ParameterGroupName = null,
    string? Engine = null,
    string? EngineVersion = null,
    string? PreferredMaintenanceWindow = null,
    bool? ApplyImmediately = null,
    IReadOnlyList<string>? UserGroupIdsToAdd = null,
    IReadOnlyList<string>? UserGroupIdsToRemove = null,
    bool? TransitEncryption = null,
    string? TransitEncryptionMode = null);

/// <summary>parameterGroupStatus: in-sync, applying (immediate values being set) or pending-reboot (start-up values wait for a reboot).</summary>
public sealed record NodeResponse(string Id, NodeRole Role, string AvailabilityZone, NodeStatus Status, EndpointAddress? Endpoint, string ParameterGroupStatus);

public sealed record ShardResponse(string Id, ShardStatus Status, string Slots, IReadOnlyList<NodeResponse> Nodes);

public sealed record ReplicationGroupResponse(
    string Id,
    string Description,
    string Engine,
    string EngineVersion,
    string NodeType,
    ClusterMode ClusterMode,
    GroupStatus Status,
    int NumShards,
    int ReplicasPerShard,
    bool AutomaticFailover,
    bool MultiAz,
    bool TransitEncryption,
    bool AuthTokenEnabled,
    int SnapshotRetentionLimit,
    string? SnapshotWindow,
    EndpointAddress? PrimaryEndpoint,
    EndpointAddress? ReaderEndpoint,
    EndpointAddress? ConfigurationEndpoint,
    IReadOnlyList<ShardResponse> Shards,
    IReadOnlyDictionary<string, object?>? PendingChanges,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt,
    DateTimeOffset? ExpiresAt,
    string Etag,
    string ParameterGroupName,
    string? PreferredMaintenanceWindow,
    DateTimeOffset? AuthTokenLastModifiedAt = null,
    IReadOnlyList<string>? UserGroupIds = null,
    string? TransitEncryptionMode = null);

public sealed record TestFailoverRequest(string ShardId);

public sealed record Page<T>(IReadOnlyList<T> Items, string? NextCursor);
