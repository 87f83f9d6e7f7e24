using System.Text.Json;
using ControlPlane.Api.Contracts;
using ControlPlane.Api.Data;
using ControlPlane.Api.Http;
using ControlPlane.Api.Reconciliation;
using ControlPlane.Domain;
using ControlPlane.Domain.Planning;
using Microsoft.EntityFrameworkCore;

namespace ControlPlane.Api.Endpoints;

/// <summary>
/// Reboots of chosen nodes. A rebooted node keeps its id, port and endpoint: its engine restarts in
/// place (the same container) unless its start-up values changed, when a new container takes the
/// node's place with the parameter group's current values (how pending-reboot values are applied).
/// A replication group reboots one shard at a time, replicas first, each resyncing from its primary;
/// a primary hands over to a synced replica first, so no acknowledged write is lost. A Memcached node
/// comes back empty, as on ElastiCache.
/// </summary>
public static class RebootApi
{
    public static IEndpointRouteBuilder MapReboots(this IEndpointRouteBuilder app)
    {
        app.MapPost("/v1/replication-groups/{id}/reboot", RebootGroup).WithTags("Replication groups")
            .WithName("RebootReplicationGroupNodes").WithSummary("Reboot nodes of a replication group, one shard at a time, replicas first")
            .Produces<ReplicationGroupResponse>(StatusCodes.Status202Accepted)
            .ProducesProblem(400).ProducesProblem(404).ProducesProblem(409).ProducesProblem(503);
        app.MapPost("/v1/cache-clusters/{id}/reboot", RebootCluster).WithTags("Memcached cache clusters")
            .WithName("RebootCacheClusterNodes").WithSummary("Reboot nodes of a Memcached cluster")
            .Produces<CacheClusterResponse>(StatusCodes.Status202Accepted)
            .ProducesProblem(400).ProducesProblem(404).ProducesProblem(409).ProducesProblem(503);
        return app;
    }

    private static async Task<IResult> RebootGroup(
        string id, RebootRequest request, HttpContext http, ControlPlaneDbContext db, TimeProvider time, Caller caller, CancellationToken ct)
    {
        var stored = caller.Internal(Identifiers.Normalize(id));
        var group = await ReplicationGroupsApi.Load(db).FirstOrDefaultAsync(g => g.Id == stored, ct);
        if (group is null)
            return Problems.NotFound(ErrorCodes.ReplicationGroupNotFound, $"Replication group {Identifiers.Normalize(id)} does not exist.");
        if (CheckNodes(request, group.Shards.SelectMany(s => s.Nodes).Select(n => n.Id).ToList(), group.Tenant) is { } bad)
            return bad;
        if (group.Status != GroupStatus.Available)
            return Problems.Conflict(ErrorCodes.InvalidReplicationGroupState,
                $"Replication group {TenantNames.Public(group.Id)} is {JsonBodies.EnumText(group.Status)}, not available.");
        var nodes = request.NodeIds.Select(n => TenantNames.Internal(group.Tenant, n)).ToList();
        group.Status = GroupStatus.Modifying;
        group.PendingChanges = new PendingChanges { RebootNodes = nodes };
        group.Generation++;
        group.UpdatedAt = time.GetUtcNow();
        db.Record(time, SourceType.ReplicationGroup, group.Id, $"Reboot requested for cache nodes {string.Join(", ", nodes)}");
        return await Store.SaveAsync(db, http, group.Version, ErrorCodes.InvalidReplicationGroupState, () => group.ToResponse(), r => r.Etag, ct);
    }

    private static async Task<IResult> RebootCluster(
        string id, RebootRequest request, HttpContext http, ControlPlaneDbContext db, TimeProvider time, Caller caller, CancellationToken ct)
    {
        var stored = caller.Internal(Identifiers.Normalize(id));
        var cluster = await db.CacheClusters.Include(c => c.Nodes).FirstOrDefaultAsync(c => c.Id == stored, ct);
        if (cluster is null)
            return Problems.NotFound(ErrorCodes.CacheClusterNotFound, $"Cache cluster {Identifiers.Normalize(id)} does not exist.");
        if (CheckNodes(request, cluster.Nodes.Select(n => n.Id).ToList(), cluster.Tenant) is { } bad)
            return bad;
        if (cluster.Status != CacheClusterStatus.Available)
            return Problems.Conflict(ErrorCodes.InvalidCacheClusterState,
                $"Cache cluster {TenantNames.Public(cluster.Id)} is {JsonBodies.EnumText(cluster.Status)}, not available.");
        var rebooted = request.NodeIds.Select(n => TenantNames.Internal(cluster.Tenant, n)).ToList();
        var now = time.GetUtcNow();
        cluster.Status = CacheClusterStatus.Modifying;
        cluster.PendingChanges = new PendingChanges { RebootNodes = rebooted };
        cluster.Generation++;
        cluster.UpdatedAt = now;
        db.Record(time, SourceType.CacheCluster, cluster.Id, $"Reboot requested for cache nodes {string.Join(", ", rebooted)}");
        return await Store.SaveAsync(db, http, cluster.Version, ErrorCodes.InvalidCacheClusterState, () => cluster.ToResponse(), r => r.Etag, ct);
    }

    /// <summary>At least one node, each of the group or cluster, none twice.</summary>
    private static IResult? CheckNodes(RebootRequest request, IReadOnlyList<string> nodes, string tenant)
    {
        if (request.NodeIds is not { Count: > 0 } ids)
            return Problems.Invalid("nodeIds", "Name at least one node to reboot.");
        if (ids.Distinct().Count() != ids.Count)
            return Problems.Invalid("nodeIds", "nodeIds lists a node more than once.");
        if (ids.FirstOrDefault(n => !nodes.Contains(TenantNames.Internal(tenant, n))) is { } unknown)
            return Problems.Invalid("nodeIds", $"There is no node {unknown} here.");
        return null;
    }
}
