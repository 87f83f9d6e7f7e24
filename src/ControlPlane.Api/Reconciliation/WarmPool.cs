using System.Globalization;
using ControlPlane.Api.Data;
using ControlPlane.Api.Engines;
using ControlPlane.Api.Options;
using ControlPlane.Api.Runtime;
using ControlPlane.Domain;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace ControlPlane.Api.Reconciliation;

/// <summary>
/// Idle, pre-started cluster-mode Redis nodes per zone. A new cluster-mode-enabled group takes them
/// instead of starting containers: no container start, and no wait for Redis' 2 s writable delay
/// after start. A taken node keeps its container and port; its limits become the node type's.
/// Pool nodes are leased ports like any node, so nothing else can take them, and their lease ids
/// keep them from being removed as orphans. The pool is kept exact with any number of control
/// planes: one at a time maintains it, under a lock and from a listing taken inside that lock; a
/// pool node is taken by moving its lease to the node in one statement, which only one can win.
/// </summary>
public sealed partial class WarmPool(ZoneRegistry zones, NodeSpecs specs, PortAllocator ports, IRedisAdmin redis, Catalog catalog,
    IOptions<ControlPlaneOptions> options, ILogger<WarmPool> logger)
{
    public const string Kind = "pool";
    public const string IdPrefix = "pool-";
    private const string PoolNodeType = "cache.small";

    public static bool IsPoolId(string nodeId) => nodeId.StartsWith(IdPrefix, StringComparison.Ordinal);

    private int Size => options.Value.Reconciler.WarmPoolSize;

    private string Version => catalog.NewestVersion(Catalog.Redis);

    /// <summary>
    /// Removes exited pool nodes and gives their ports back, drops leases whose pool node never
    /// started, and tops every zone up to the pool size (or trims it down to it). Cheap when the
    /// pass's listing shows nothing to do; otherwise done under the pool lock on a fresh listing.
    /// </summary>
    public async Task MaintainAsync(ControlPlaneDbContext db, ContainerView view, CancellationToken ct)
    {
        var leases = await db.PortLeases.AsNoTracking().Where(l => l.NodeId.StartsWith(IdPrefix)).Select(l => l.NodeId).ToListAsync(ct);
        if (!NeedsWork(view.ByZone, leases))
            return;
        await using var guard = await GroupLock.TryTakeAsync(db, "warm-pool", ct);
        if (guard is null)
            return; // another control plane maintains it now
        var listing = await zones.ListAsync(ct);
        leases = await db.PortLeases.AsNoTracking().Where(l => l.NodeId.StartsWith(IdPrefix)).Select(l => l.NodeId).ToListAsync(ct);
        var idle = leases.ToHashSet();
        var pool = listing.Where(z => z.Value is not null).SelectMany(z => z.Value!.Where(c => IsIdle(c, idle)).Select(c => (Zone: z.Key, Container: c))).ToList();

        // Exited pool nodes (and any above the size) go, and their ports with them.
        var surplus = pool.Where(p => p.Container.Running).GroupBy(p => p.Zone).SelectMany(g => g.Skip(Size));
        foreach (var (zone, container) in pool.Where(p => !p.Container.Running).Concat(surplus).ToList())
        {
            await zones[zone].Runtime.RemoveAsync(container.Id, ct);
            await PortAllocator.ReleaseAsync(db, [container.Labels[Labels.Node]], ct);
            LogRemoved(logger, container.Name, zone, container.State);
        }
        // A lease whose pool node never started (a control plane killed in between) is given back.
        if (listing.Values.All(l => l is not null))
        {
            var listed = pool.Select(p => p.Container.Labels[Labels.Node]).ToHashSet();
            if (leases.Where(id => !listed.Contains(id)).ToList() is { Count: > 0 } unused)
                await PortAllocator.ReleaseAsync(db, unused, ct);
        }
        foreach (var zone in zones.All)
        {
            if (listing.GetValueOrDefault(zone.Name) is null)
                continue;
            var missing = Size - pool.Count(p => p.Zone == zone.Name && p.Container.Running);
            if (missing <= 0)
                continue;
            var fresh = Enumerable.Range(0, missing).Select(_ => $"{IdPrefix}{Guid.NewGuid():N}"[..17]).ToList();
            var assigned = new Dictionary<string, int>();
            // The leases are committed before any container binds its port.
            await ports.AllocateAsync(db, fresh.Select(id => (id, zone.Host, (Action<int>)(p => assigned[id] = p))).ToList(), ct);
            await Task.WhenAll(fresh.Select(id => zone.Runtime.RunAsync(Spec(id, zone.Host, assigned[id]), ct)));
        }
    }

    /// <summary>Whether the pass's listing shows a zone below or above the size, an exited pool node, or a lease without its node.</summary>
    private bool NeedsWork(IReadOnlyDictionary<string, IReadOnlyList<ContainerInfo>?> listing, IReadOnlyList<string> leases)
    {
        var idle = leases.ToHashSet();
        var pool = listing.Values.OfType<IReadOnlyList<ContainerInfo>>().SelectMany(c => c.Where(x => IsIdle(x, idle))).ToList();
        if (pool.Any(c => !c.Running))
            return true;
        if (listing.Values.Any(c => c is not null && c.Count(x => IsIdle(x, idle) && x.Running) != Size))
            return true;
        var listed = pool.Select(c => c.Labels[Labels.Node]).ToHashSet();
        return listing.Values.All(l => l is not null) && leases.Any(id => !listed.Contains(id));
    }

    /// <summary>A pool container not taken by a node: its lease is still under its pool id (taking one moves the lease to the node).</summary>
    private static bool IsIdle(ContainerInfo c, IReadOnlySet<string> poolLeases) =>
        c.Labels.GetValueOrDefault(Labels.Kind) == Kind && c.Labels.TryGetValue(Labels.Node, out var id) && poolLeases.Contains(id);

    /// <summary>
    /// Gives the nodes without a port of a new cluster idle pool nodes of their zone, as far as there
    /// are. Each is claimed in one transaction: its lease moves to the node (a claimant that lost the
    /// race waits on the row and then finds it moved), the container is resized to the node type, and
    /// the node records its port and pool id.
    /// </summary>
    public async Task TakeAsync(ControlPlaneDbContext db, ReplicationGroupEntity group, ContainerView view, CancellationToken ct)
    {
        // A pool node is started already: it cannot start with a snapshot's file in place, nor with TLS.
        if (Size == 0 || group.ClusterMode != ClusterMode.Enabled || group.Status != GroupStatus.Creating || group.Engine != Catalog.Redis || group.EngineVersion != Version
            || group.RestoreFromSnapshot is not null || group.TransitEncryption)
            return;
        var waiting = group.Shards.SelectMany(s => s.Nodes).Where(n => n.Port is null).ToList();
        if (waiting.Count == 0)
            return;
        // A node that holds a lease already (a control plane killed before its port was recorded) takes that port back instead.
        var waitingIds = waiting.Select(n => n.Id).ToList();
        var leased = (await db.PortLeases.AsNoTracking().Where(l => waitingIds.Contains(l.NodeId)).Select(l => l.NodeId).ToListAsync(ct)).ToHashSet();
        var idle = (await db.PortLeases.AsNoTracking().Where(l => l.NodeId.StartsWith(IdPrefix)).Select(l => l.NodeId).ToListAsync(ct)).ToHashSet();
        var nodeType = catalog.NodeTypes.First(t => t.Name == group.NodeType);
        foreach (var node in waiting.Where(n => !leased.Contains(n.Id)))
        {
            if (view.ByZone.GetValueOrDefault(node.AvailabilityZone) is not { } containers)
                continue;
            foreach (var pool in containers.Where(c => c.Running && IsIdle(c, idle)))
            {
                var poolId = pool.Labels[Labels.Node];
                idle.Remove(poolId);
                await using var tx = await db.Database.BeginTransactionAsync(ct);
                if (await db.PortLeases.Where(l => l.NodeId == poolId).ExecuteUpdateAsync(u => u.SetProperty(l => l.NodeId, node.Id), ct) == 0)
                    continue; // another group or control plane took it first
                var (host, port) = (zones[node.AvailabilityZone].Host, int.Parse(pool.Labels[Labels.Port], CultureInfo.InvariantCulture));
                await ResizeAsync(zones[node.AvailabilityZone].Runtime, pool.Id, host, port, nodeType, ct);
                (node.Host, node.Port, node.PoolId) = (host, port, poolId);
                await db.SaveChangesAsync(ct);
                await tx.CommitAsync(ct);
                break;
            }
        }
    }

    private async Task ResizeAsync(INodeRuntime runtime, string containerId, string host, int port, NodeType nodeType, CancellationToken ct)
    {
        await runtime.UpdateLimitsAsync(containerId, nodeType.MemoryMiB * 1024L * 1024L, nodeType.Cpus, ct);
        var maxmemory = nodeType.MaxMemoryBytes.ToString(CultureInfo.InvariantCulture);
        try
        {
            await redis.ConfigSetAsync(host, port, "maxmemory", maxmemory, ct);
        }
        catch (StackExchange.Redis.RedisConnectionException)
        {
            // A connection cached for an earlier node on the same port: drop it and ask once more.
            await redis.DisconnectAsync(host, port);
            await redis.ConfigSetAsync(host, port, "maxmemory", maxmemory, ct);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Removed pool node {Name} in zone {Zone} ({State}); its port is free again")]
    private static partial void LogRemoved(ILogger logger, string name, string zone, string state);

    private ContainerSpec Spec(string poolId, string host, int port)
    {
        var spec = specs.Redis(Kind, "", poolId, host, port, Version, PoolNodeType, cluster: true);
        return spec with { Labels = new Dictionary<string, string>(spec.Labels) { [Labels.Kind] = Kind } };
    }
}
