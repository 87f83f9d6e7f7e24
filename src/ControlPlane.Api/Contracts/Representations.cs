using System.Text.Json;
using ControlPlane.Api.Data;
using ControlPlane.Api.Http;
using ControlPlane.Api.Parameters;
using ControlPlane.Domain;
using ControlPlane.Domain.Parameters;
using ControlPlane.Domain.Planning;

namespace ControlPlane.Api.Contracts;

/// <summary>
/// Entity to representation. Endpoints appear once the reconciler has given a node its port.
/// Stored ids are tenant-qualified (<see cref="TenantNames"/>); representations show the public ones.
/// </summary>
public static class Representations
{
    public static ReplicationGroupResponse ToResponse(this ReplicationGroupEntity g)
    {
        var shards = g.Shards.OrderBy(s => s.Id).Select(s => new ShardResponse(
            s.Id, s.Status, s.Slots,
            s.Nodes.OrderBy(n => n.Id).Select(n => new NodeResponse(TenantNames.Public(n.Id), n.Role, n.AvailabilityZone, n.Status, Address(n.Host, n.Port),
                n.ParameterGroupStatus ?? ParameterStatus.InSync)).ToList()))
            .ToList();
        var nodes = shards.SelectMany(s => s.Nodes).Where(n => n.Endpoint is not null && n.Status != NodeStatus.Failed).ToList();
        // Cluster mode disabled: the proxy's ports, which follow the primary through failovers.
        var primary = g.ClusterMode == ClusterMode.Disabled
            ? Address(g.EndpointHost, g.PrimaryEndpointPort)
            : nodes.FirstOrDefault(n => n.Role == NodeRole.Primary)?.Endpoint;
        var reader = Address(g.EndpointHost, g.ReaderEndpointPort);
        var disabled = g.ClusterMode == ClusterMode.Disabled;
        return new ReplicationGroupResponse(
            TenantNames.Public(g.Id), g.Description, g.Engine, g.EngineVersion, g.NodeType, g.ClusterMode, g.Status,
            g.NumShards, g.ReplicasPerShard, g.AutomaticFailover, g.MultiAz, g.TransitEncryption,
            g.AuthTokenHash is not null, g.SnapshotRetentionLimit, g.SnapshotWindow,
            disabled ? primary : null,
            disabled ? reader : null,
            disabled ? null : primary,
            shards,
            GroupPendingChanges(g),
            g.CreatedAt, g.UpdatedAt, g.ExpiresAt, ETags.Format(g.Version),
            ParameterGroups.ShownName(g.ParameterGroupName, g.Engine, g.EngineVersion, g.ClusterMode == ClusterMode.Enabled),
            g.PreferredMaintenanceWindow,
            g.AuthTokenLastModifiedAt,
            g.UserGroupId is { } userGroup ? [TenantNames.Public(userGroup)] : [],
            g.TransitEncryptionMode);
    }

    public static CacheClusterResponse ToResponse(this CacheClusterEntity c)
    {
        var nodes = c.Nodes.OrderBy(n => n.Id)
            .Select(n => new CacheNodeResponse(TenantNames.Public(n.Id), n.AvailabilityZone, n.Status, Address(n.Host, n.Port), n.ParameterGroupStatus ?? ParameterStatus.InSync))
            .ToList();
        return new CacheClusterResponse(
            TenantNames.Public(c.Id), c.Engine, c.EngineVersion, c.NodeType, c.Status, c.NumNodes, c.AzMode,
            // The auto-discovery endpoint once it is up; until then a node.
            Address(c.DiscoveryHost, c.DiscoveryPort) ?? nodes.FirstOrDefault(n => n.Endpoint is not null && n.Status != NodeStatus.Deleting)?.Endpoint ?? nodes.FirstOrDefault(n => n.Endpoint is not null)?.Endpoint,
            nodes, WithScheduled(c.Tenant, c.PendingChanges, c.ScheduledChanges, c.ScheduledAt), c.CreatedAt, c.UpdatedAt, c.ExpiresAt, ETags.Format(c.Version),
            ParameterGroups.ShownName(c.ParameterGroupName, c.Engine, c.EngineVersion, clusterEnabled: false), c.PreferredMaintenanceWindow,
            c.TransitEncryption);
    }

    public static SnapshotResponse ToResponse(this SnapshotEntity s) => new(
        TenantNames.Public(s.Name), TenantNames.Public(s.ReplicationGroupId), s.Status, s.Source, s.ClusterMode, s.EngineVersion, s.NodeType, s.NumShards,
        s.Files.OrderBy(f => f.ShardId).Select(f => new SnapshotFileResponse(f.ShardId, f.Slots, f.SizeBytes, f.Sha256)).ToList(),
        s.CreatedAt, ETags.Format(s.Version));

    public static EventResponse ToResponse(this EventEntity e) =>
        new(e.Time, e.SourceType, TenantNames.Public(e.SourceId), TenantNames.PublicText(e.Tenant, e.Message), e.Principal);

    private static EndpointAddress? Address(string? host, int? port) =>
        host is not null && port is { } p ? new EndpointAddress(host, p) : null;

    /// <summary>What a modification under way still changes, and what waits for the maintenance window with applyAt, when it starts.</summary>
    private static IReadOnlyDictionary<string, object?>? GroupPendingChanges(ReplicationGroupEntity g) =>
        WithScheduled(g.Tenant, g.PendingChanges, g.ScheduledChanges, g.ScheduledAt);

    private static IReadOnlyDictionary<string, object?>? WithScheduled(string tenant, PendingChanges? pending, PendingChanges? scheduled, DateTimeOffset? at)
    {
        var now = PendingChanges(tenant, pending);
        var waiting = PendingChanges(tenant, scheduled);
        if (waiting is null)
            return now;
        var all = new Dictionary<string, object?>(now ?? new Dictionary<string, object?>());
        foreach (var (field, value) in waiting)
            all[field] = value;
        all["applyAt"] = at;
        return all;
    }

    private static IReadOnlyDictionary<string, object?>? PendingChanges(string tenant, PendingChanges? changes) =>
        changes is null ? null : JsonSerializer.Deserialize<Dictionary<string, object?>>(TenantNames.PublicText(tenant, PendingChangesJson.Write(changes)));
}
