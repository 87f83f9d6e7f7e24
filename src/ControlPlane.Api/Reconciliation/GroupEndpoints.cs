using System.Net;
using ControlPlane.Api.Data;
using ControlPlane.Api.Options;
using ControlPlane.Api.Runtime;
using ControlPlane.Domain;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace ControlPlane.Api.Reconciliation;

/// <summary>
/// The primary and reader endpoints of a cluster-mode-disabled group: two leased ports that reach
/// the current primary and the replicas (the primary when there is none). Served by kernel NAT
/// rules (<see cref="KernelEndpoints"/>, nothing on the data path) or by a proxy container
/// (<see cref="ProxyEndpoints"/>), as configured; Auto takes the kernel where nftables works.
/// </summary>
public sealed partial class GroupEndpoints(
    KernelEndpoints kernel, ProxyEndpoints proxy, Netfilter netfilter, ZoneRegistry zones, PortAllocator ports,
    IOptions<ControlPlaneOptions> options, ILogger<GroupEndpoints> logger)
{
    private EndpointMode? _mode;
    private bool _rebuilt;

    public static string NodeLabel(string groupId) => $"{groupId}-endpoint";

    /// <summary>Every port lease of a group's endpoints: the primary and reader ports, and the proxy's runtime API (proxy mode).</summary>
    public static IReadOnlyList<string> LeaseIds(string groupId) => [.. PortLeaseIds(groupId), ProxyEndpoints.AdminLeaseId(groupId)];

    private static IReadOnlyList<string> PortLeaseIds(string groupId) => [$"{groupId}/primary-endpoint", $"{groupId}/reader-endpoint"];

    /// <summary>Nftables or Proxy: the configured mode, Auto resolved once by trying nft and conntrack.</summary>
    public async Task<EndpointMode> ModeAsync(CancellationToken ct)
    {
        if (_mode is { } mode)
            return mode;
        mode = options.Value.Endpoints.Mode;
        if (mode == EndpointMode.Auto)
            mode = await netfilter.WorksAsync(ct) ? EndpointMode.Nftables : EndpointMode.Proxy;
        LogMode(logger, mode, options.Value.Endpoints.Mode);
        return (_mode = mode).Value;
    }

    /// <param name="wiredNow">The nodes still marked creating are wired, and become available with this step.</param>
    public async Task EnsureAsync(ControlPlaneDbContext db, ReplicationGroupEntity group, ContainerView view, bool wiredNow, CancellationToken ct)
    {
        if (await ModeAsync(ct) == EndpointMode.Proxy)
        {
            await proxy.EnsureAsync(db, group, view, wiredNow, ct);
            return;
        }
        // The lease is stored before any rule uses the ports: a port that a rule forwards must never go to a node.
        if (await LeaseAsync(ports, db, group, KernelHost, ct))
            await db.SaveChangesAsync(ct);
        // A proxy left from proxy mode would hold the same ports: the kernel takes over.
        if (ProxyEndpoints.Existing(group.Id, view).Count > 0)
            await proxy.RemoveAsync(group.Id, view, ct);
        await kernel.ApplyAsync(Forwarding(group, wiredNow), ct);
    }

    /// <summary>Removes the endpoints (rules, or the proxy) and releases their ports with the caller's save (delete, create-failed).</summary>
    public async Task RemoveAsync(ControlPlaneDbContext db, string groupId, ContainerView view, CancellationToken ct)
    {
        var ids = LeaseIds(groupId).ToList();
        if (await ModeAsync(ct) == EndpointMode.Nftables)
        {
            // The rules go before the ports are released: a port that a rule still forwards must never go to a new node.
            var leased = await db.PortLeases.AsNoTracking().Where(l => ids.Contains(l.NodeId)).ToListAsync(ct);
            await kernel.RemoveAsync(groupId, leased.Where(l => IPAddress.TryParse(l.Host, out _)).Select(l => new IPEndPoint(IPAddress.Parse(l.Host), l.Port)).ToList(), ct);
        }
        await proxy.RemoveAsync(groupId, view, ct);
        await PortAllocator.ReleaseOnSaveAsync(db, ids, ct);
    }

    /// <summary>
    /// Once per reconcile pass (nftables mode). The first time, and whenever the table is missing, the
    /// table is rebuilt from the database alone, so a restart leaves exactly the rules the stored groups
    /// need; after that, rules of groups the database does not know are removed.
    /// </summary>
    public async Task SweepAsync(ControlPlaneDbContext db, CancellationToken ct)
    {
        if (await ModeAsync(ct) != EndpointMode.Nftables)
            return;
        if (_rebuilt && await kernel.SweepAsync((await db.ReplicationGroups.Where(g => g.ClusterMode == ClusterMode.Disabled).Select(g => g.Id).ToListAsync(ct)).ToHashSet(), ct))
            return;
        var groups = await db.ReplicationGroups.AsNoTracking().Include(g => g.Shards).ThenInclude(s => s.Nodes).AsSplitQuery()
            .Where(g => g.ClusterMode == ClusterMode.Disabled && g.PrimaryEndpointPort != null && g.ReaderEndpointPort != null && g.EndpointHost != null
                && (g.Status == GroupStatus.Available || g.Status == GroupStatus.Modifying || g.Status == GroupStatus.Snapshotting || g.Status == GroupStatus.Deleting
                    || g.Status == GroupStatus.IncompatibleNetwork))
            .ToListAsync(ct);
        await kernel.RebuildAsync(groups.Select(g => Forwarding(g, wiredNow: false)).ToList(), ct);
        _rebuilt = true;
    }

    /// <summary>Leases the group's two endpoint ports on <paramref name="host"/> (again, when they were leased on another); true when it did.</summary>
    public static async Task<bool> LeaseAsync(PortAllocator ports, ControlPlaneDbContext db, ReplicationGroupEntity group, string host, CancellationToken ct)
    {
        if (group.PrimaryEndpointPort is not null && group.ReaderEndpointPort is not null && group.EndpointHost == host)
            return false;
        await PortAllocator.ReleaseAsync(db, LeaseIds(group.Id).ToList(), ct);
        var assigned = new int[2];
        await ports.AllocateAsync(db, PortLeaseIds(group.Id).Select((id, i) => (id, host, (Action<int>)(p => assigned[i] = p))).ToList(), ct);
        (group.EndpointHost, group.PrimaryEndpointPort, group.ReaderEndpointPort) = (host, assigned[0], assigned[1]);
        return true;
    }

    /// <summary>The address clients reach this host's rules on: configured, or the first zone's host.</summary>
    private string KernelHost => options.Value.Endpoints.Host is { Length: > 0 } host ? host : zones.All.OrderBy(z => z.Name, StringComparer.Ordinal).First().Host;

    /// <summary>
    /// From the database: the primary port forwards to the available primary, the reader port to the
    /// available replicas (the primary when there is none). A node that is failed, replacing or
    /// deleting is no target: its connections are reset and its clients reconnect to one that is.
    /// </summary>
    private static GroupForwarding Forwarding(ReplicationGroupEntity group, bool wiredNow)
    {
        var nodes = group.Shards.SelectMany(s => s.Nodes)
            .Where(n => n.Port is not null && n.Host is not null && (n.Status == NodeStatus.Available || (wiredNow && n.Status == NodeStatus.Creating)))
            .OrderBy(n => n.Id, StringComparer.Ordinal).ToList();
        var primary = nodes.Where(n => n.Role == NodeRole.Primary).Take(1).Select(Target).ToList();
        var replicas = nodes.Where(n => n.Role == NodeRole.Replica).Select(Target).ToList();
        return new GroupForwarding(group.Id, Address(group.EndpointHost!),
            [new PortForward(group.PrimaryEndpointPort!.Value, primary), new PortForward(group.ReaderEndpointPort!.Value, replicas.Count > 0 ? replicas : primary)]);
    }

    private static IPEndPoint Target(RedisNodeEntity node) => new(Address(node.Host!), node.Port!.Value);

    private static IPAddress Address(string host) =>
        IPAddress.TryParse(host, out var address) && address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork
            ? address
            : throw new InvalidOperationException($"'{host}' is not an IPv4 address: nftables endpoints need IPv4 zone hosts (or set ControlPlane:Endpoints:Mode to proxy).");

    [LoggerMessage(Level = LogLevel.Information, Message = "Group endpoints are served by {Mode} (configured: {Configured})")]
    private static partial void LogMode(ILogger logger, EndpointMode mode, EndpointMode configured);
}
