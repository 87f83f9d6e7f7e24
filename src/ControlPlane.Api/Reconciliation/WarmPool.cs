using System.Collections.Concurrent;
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
/// Every pass tops the pool up again. Pool nodes are leased ports like any node, so nothing else
/// can take them, and their lease ids keep them from being removed as orphans.
/// </summary>
public sealed class WarmPool(ZoneRegistry zones, NodeSpecs specs, PortAllocator ports, RedisAdmin redis, Catalog catalog, IOptions<ControlPlaneOptions> options)
{
    public const string Kind = "pool";
    private const string PoolNodeType = "cache.small";

    // Taken in this process but perhaps not saved yet, so two groups never take the same node.
    private readonly ConcurrentDictionary<string, byte> _taken = new();

    private int Size => options.Value.Reconciler.WarmPoolSize;

    private string Version => catalog.NewestVersion(Catalog.Redis);

    public async Task TopUpAsync(ControlPlaneDbContext db, ContainerView view, CancellationToken ct)
    {
        if (Size == 0)
            return;
        var taken = await TakenAsync(db, ct);
        foreach (var zone in zones.All)
        {
            if (view.ByZone.GetValueOrDefault(zone.Name) is not { } containers)
                continue;
            var idle = Idle(containers, taken).Count;
            if (idle >= Size)
                continue;
            var fresh = Enumerable.Range(0, Size - idle).Select(_ => $"pool-{Guid.NewGuid():N}"[..17]).ToList();
            var assigned = new Dictionary<string, int>();
            await ports.AllocateAsync(db, fresh.Select(id => (id, zone.Host, (Action<int>)(p => assigned[id] = p))).ToList(), ct);
            await db.SaveChangesAsync(ct);
            await Task.WhenAll(fresh.Select(id => zone.Runtime.RunAsync(Spec(id, zone.Host, assigned[id]), ct)));
        }
    }

    /// <summary>Gives the nodes without a port of a new cluster idle pool nodes of their zone, as far as there are; saved by the caller.</summary>
    public async Task TakeAsync(ControlPlaneDbContext db, ReplicationGroupEntity group, ContainerView view, CancellationToken ct)
    {
        // A pool node is started already: it cannot start with a snapshot's file in place.
        if (Size == 0 || group.ClusterMode != ClusterMode.Enabled || group.Status != GroupStatus.Creating || group.EngineVersion != Version
            || group.RestoreFromSnapshot is not null)
            return;
        var waiting = group.Shards.SelectMany(s => s.Nodes).Where(n => n.Port is null).ToList();
        if (waiting.Count == 0)
            return;
        var taken = await TakenAsync(db, ct);
        var nodeType = catalog.NodeTypes.First(t => t.Name == group.NodeType);
        var claims = new List<(RedisNodeEntity Node, ContainerInfo Pool, string Host, int Port)>();
        foreach (var node in waiting)
        {
            if (view.ByZone.GetValueOrDefault(node.AvailabilityZone) is not { } containers)
                continue;
            var pool = Idle(containers, taken).FirstOrDefault(c => _taken.TryAdd(c.Labels[Labels.Node], 0));
            if (pool is not null)
                claims.Add((node, pool, zones[node.AvailabilityZone].Host, int.Parse(pool.Labels[Labels.Port], CultureInfo.InvariantCulture)));
        }
        try
        {
            // Resized first: the database says the node owns the container only once it has the node type's limits.
            await Task.WhenAll(claims.Select(c => ResizeAsync(zones[c.Node.AvailabilityZone].Runtime, c.Pool.Id, c.Host, c.Port, nodeType, ct)));
        }
        catch
        {
            foreach (var claim in claims)
                _taken.TryRemove(claim.Pool.Labels[Labels.Node], out _);
            throw;
        }
        var poolIds = claims.Select(c => c.Pool.Labels[Labels.Node]).ToList();
        db.PortLeases.RemoveRange(await db.PortLeases.Where(l => poolIds.Contains(l.NodeId)).ToListAsync(ct));
        foreach (var (node, pool, host, port) in claims)
        {
            db.PortLeases.Add(new PortLeaseEntity { Host = host, Port = port, NodeId = node.Id });
            (node.Host, node.Port, node.PoolId) = (host, port, pool.Labels[Labels.Node]);
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

    private static async Task<HashSet<string>> TakenAsync(ControlPlaneDbContext db, CancellationToken ct) =>
        (await db.RedisNodes.Where(n => n.PoolId != null).Select(n => n.PoolId!).ToListAsync(ct)).ToHashSet();

    private List<ContainerInfo> Idle(IReadOnlyList<ContainerInfo> containers, HashSet<string> taken) =>
        containers.Where(c => c.Running && c.Labels.GetValueOrDefault(Labels.Kind) == Kind
                && c.Labels.TryGetValue(Labels.Node, out var id) && !taken.Contains(id) && !_taken.ContainsKey(id))
            .ToList();

    private ContainerSpec Spec(string poolId, string host, int port)
    {
        var spec = specs.Redis(Kind, "", poolId, host, port, Version, PoolNodeType, cluster: true);
        return spec with { Labels = new Dictionary<string, string>(spec.Labels) { [Labels.Kind] = Kind } };
    }
}
