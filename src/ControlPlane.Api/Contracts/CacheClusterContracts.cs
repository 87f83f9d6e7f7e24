using ControlPlane.Domain;

namespace ControlPlane.Api.Contracts;

/// <summary>Body of POST /v1/cache-clusters.</summary>
public sealed record CreateCacheClusterRequest(
    string Id,
    string Engine,
    string? EngineVersion = null,
    string? NodeType = null,
    int? NumNodes = null,
    AzMode? AzMode = null,
    IReadOnlyList<string>? PreferredAvailabilityZones = null,
    DateTimeOffset? ExpiresAt = null,
    string? Tenant = null,
    string? ParameterGroupName = null,
    string? PreferredMaintenanceWindow = null,
    bool? TransitEncryption = null);

/// <summary>Body of PATCH /v1/cache-clusters/{id} (JSON merge patch).</summary>
public sealed record CacheClusterPatch(
    int? NumNodes = null,
    IReadOnlyList<string>? NodeIdsToRemove = null,
    string? NodeType = null,
    DateTimeOffset? ExpiresAt = null,
    string? ParameterGroupName = null,
    string? PreferredMaintenanceWindow = null,
    bool? ApplyImmediately = null);

/// <summary>parameterGroupStatus: in-sync or pending-reboot (Memcached's parameters are start-up options).</summary>
public sealed record CacheNodeResponse(string Id, string AvailabilityZone, NodeStatus Status, EndpointAddress? Endpoint, string ParameterGroupStatus);

public sealed record CacheClusterResponse(
    string Id,
    string Engine,
    string EngineVersion,
    string NodeType,
    CacheClusterStatus Status,
    int NumNodes,
    AzMode AzMode,
    EndpointAddress? ConfigurationEndpoint,
    IReadOnlyList<CacheNodeResponse> Nodes,
    IReadOnlyDictionary<string, object?>? PendingChanges,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt,
    DateTimeOffset? ExpiresAt,
    string Etag,
    string ParameterGroupName,
    string? PreferredMaintenanceWindow = null,
    bool TransitEncryption = false);
