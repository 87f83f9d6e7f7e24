using System.Security.Cryptography;
using System.Text;
using ControlPlane.Api.Data;
using ControlPlane.Api.Options;
using ControlPlane.Api.Runtime;
using ControlPlane.Domain;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace ControlPlane.Api.Reconciliation;

/// <summary>
/// The endpoints as one HAProxy container per group (proxy mode): its health checks follow the role
/// of each node, so a failover needs no reconfiguration. Its configuration names no node: the
/// nodes that are available (or wired, and become available with this step) are put in its server
/// slots through its runtime API on every pass, so a node joining or leaving changes no container
/// and cuts only the connections of a node that leaves. The container is replaced only when its own
/// spec (image, ports) changes.
/// </summary>
public sealed partial class ProxyEndpoints(
    ZoneRegistry zones, NodeSpecs specs, PortAllocator ports, Security.NodeSecretStore secrets, Security.Tls.CertificateAuthority authority,
    IOptions<ControlPlaneOptions> options, TimeProvider time,
    ILogger<ProxyEndpoints> logger)
{
    /// <summary>How long a proxy just started may take to answer on its runtime API.</summary>
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(10);

    /// <summary>The lease of the proxy's runtime API port.</summary>
    public static string AdminLeaseId(string groupId) => $"{groupId}/endpoint-admin";

    /// <param name="wiredNow">The nodes still marked creating are wired, and become available with this step.</param>
    public async Task EnsureAsync(ControlPlaneDbContext db, ReplicationGroupEntity group, ContainerView view, bool wiredNow, CancellationToken ct)
    {
        // As the kernel's rules: a node that is failed, replacing or deleting is no target.
        var serving = group.Shards.SelectMany(s => s.Nodes)
            .Where(n => n.Port is not null && n.Host is not null && (n.Status == NodeStatus.Available || (wiredNow && n.Status == NodeStatus.Creating)))
            .ToList();
        var nodes = serving.Select(n => new ProxyNode(n.Id, n.Host!, n.Port!.Value)).ToList();
        // The checks speak what the nodes' ports speak: TLS once every node serves it there (preferred
        // or required mode), plain text before. Moving from plain text to preferred replaces the proxy
        // (its connections are cut once); preferred -> required changes nothing here.
        var tls = serving.Count > 0 ? serving.All(n => n.TransitEncryptionMode is not null) : group.TransitEncryptionMode is not null;
        var existing = Existing(group.Id, view);
        if (nodes.Count == 0 && existing.Count == 0)
            return;
        // Stay where it runs; otherwise the first zone that answers.
        var zone = existing.Where(e => e.Container.Running).Select(e => e.Zone).FirstOrDefault()
            ?? zones.All.Select(z => z.Name).Order().FirstOrDefault(z => !view.ZonesUnreachable.Contains(z));
        if (zone is null)
            return;
        var host = zones[zone].Host;
        // Leases are committed before anything binds (the allocator's own transaction).
        await GroupEndpoints.LeaseAsync(ports, db, group, host, ct);
        var proxyPorts = new ProxyPorts(group.PrimaryEndpointPort!.Value, group.ReaderEndpointPort!.Value, await AdminPortAsync(db, group.Id, host, ct));
        var spec = await SpecAsync(group, host, proxyPorts, tls, ct);
        var hash = spec.Labels[Labels.SpecHash];
        if (view.EndpointRunning(group.Id) != hash)
        {
            foreach (var (oldZone, container) in existing.Where(e => !e.Container.Running || e.Zone != zone || e.Container.Labels.GetValueOrDefault(Labels.SpecHash) != hash))
                await zones[oldZone].Runtime.RemoveAsync(container.Id, ct);
            await zones[zone].Runtime.RunAsync(spec, ct);
            view.EndpointStarted(group.Id, hash);
        }
        await ServeAsync(group.Id, host, proxyPorts.Admin, nodes, ct);
    }

    private async Task ServeAsync(string groupId, string host, int adminPort, IReadOnlyList<ProxyNode> nodes, CancellationToken ct)
    {
        var changes = await ProxyAdmin.ServeAsync(host, adminPort, nodes, StartTimeout, time, ct);
        foreach (var (address, slot) in changes.Left)
            LogLeft(logger, groupId, address, slot);
        foreach (var (node, slot) in changes.Joined)
            LogJoined(logger, groupId, node.Id, node.Host, node.Port, slot);
        foreach (var node in changes.Unplaced)
            LogNoSlot(logger, groupId, node.Id, EndpointProxy.ServerSlots);
    }

    private async Task<int> AdminPortAsync(ControlPlaneDbContext db, string groupId, string host, CancellationToken ct)
    {
        var id = AdminLeaseId(groupId);
        if (await db.PortLeases.AsNoTracking().FirstOrDefaultAsync(l => l.NodeId == id, ct) is { } lease && lease.Host == host)
            return lease.Port;
        await PortAllocator.ReleaseAsync(db, [id], ct);
        var port = 0;
        await ports.AllocateAsync(db, [(id, host, p => port = p)], ct);
        return port;
    }

    /// <summary>Removes the proxy wherever it runs (a delete, a create-failed, or the kernel taking over its ports).</summary>
    public async Task RemoveAsync(string groupId, ContainerView view, CancellationToken ct)
    {
        foreach (var zone in zones.All.Where(z => !view.ZonesUnreachable.Contains(z.Name)))
            await zone.Runtime.RemoveAsync(specs.ContainerName(GroupEndpoints.NodeLabel(groupId)), ct);
    }

    /// <summary>The group's proxy containers in this pass's listing.</summary>
    public static List<(string Zone, ContainerInfo Container)> Existing(string groupId, ContainerView view) =>
        view.ByZone.Where(z => z.Value is not null)
            .SelectMany(z => z.Value!.Where(c => c.Labels.GetValueOrDefault(Labels.Node) == GroupEndpoints.NodeLabel(groupId)).Select(c => (Zone: z.Key, Container: c)))
            .ToList();

    private async Task<ContainerSpec> SpecAsync(ReplicationGroupEntity group, string host, ProxyPorts proxyPorts, bool tls, CancellationToken ct)
    {
        var image = options.Value.EndpointImage;
        var login = new HealthLogin(Security.NodeSecrets.HealthUser, secrets.Loaded.HealthPassword);
        HealthTls? healthTls = null;
        if (tls)
        {
            await authority.LoadAsync(ct);
            healthTls = new HealthTls(authority.CertificatePem);
        }
        var config = EndpointProxy.Config(group.Id, host, proxyPorts, login, healthTls);
        var hash = Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(image + "\n" + config)))[..16].ToLowerInvariant();
        var labels = new Dictionary<string, string>
        {
            [Labels.Managed] = "true",
            [Labels.Instance] = options.Value.Reconciler.Instance,
            [Labels.Kind] = "endpoint",
            [Labels.Group] = group.Id,
            [Labels.Node] = GroupEndpoints.NodeLabel(group.Id),
            [Labels.SpecHash] = hash,
        };
        return EndpointProxy.Spec(specs.ContainerName(GroupEndpoints.NodeLabel(group.Id)), image, group.Id, host, proxyPorts, labels, login: login, tls: healthTls);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Endpoint proxy of {GroupId}: node {NodeId} ({Host}:{Port}) joins in slot {Slot}")]
    private static partial void LogJoined(ILogger logger, string groupId, string nodeId, string host, int port, string slot);

    [LoggerMessage(Level = LogLevel.Information, Message = "Endpoint proxy of {GroupId}: {Address} leaves slot {Slot}; its connections are cut")]
    private static partial void LogLeft(ILogger logger, string groupId, string address, string slot);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Endpoint proxy of {GroupId}: no free slot for node {NodeId} (there are {Slots})")]
    private static partial void LogNoSlot(ILogger logger, string groupId, string nodeId, int slots);
}
