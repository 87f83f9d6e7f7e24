using System.Security.Cryptography;
using System.Text;
using ControlPlane.Api.Data;
using ControlPlane.Api.Options;
using ControlPlane.Api.Runtime;
using ControlPlane.Domain;
using Microsoft.Extensions.Options;

namespace ControlPlane.Api.Reconciliation;

/// <summary>
/// The endpoints as one HAProxy container per group (proxy mode): its health checks follow the role
/// of each node, so a failover needs no reconfiguration. It lists the nodes that are wired
/// (available) or failed; a replacement joins it once it is available, and only that changes the
/// configuration (and so the container).
/// </summary>
public sealed class ProxyEndpoints(ZoneRegistry zones, NodeSpecs specs, PortAllocator ports, IOptions<ControlPlaneOptions> options)
{
    /// <param name="wiredNow">The nodes still marked creating are wired, and become available with this step.</param>
    public async Task EnsureAsync(ControlPlaneDbContext db, ReplicationGroupEntity group, ContainerView view, bool wiredNow, CancellationToken ct)
    {
        var nodes = group.Shards.SelectMany(s => s.Nodes)
            .Where(n => n.Port is not null && n.Host is not null
                && (n.Status is NodeStatus.Available or NodeStatus.Failed || (wiredNow && n.Status == NodeStatus.Creating)))
            .Select(n => new ProxyNode(n.Id, n.Host!, n.Port!.Value)).ToList();
        if (nodes.Count == 0)
            return;
        var existing = Existing(group.Id, view);
        // Stay where it runs; otherwise the first zone that answers.
        var zone = existing.Where(e => e.Container.Running).Select(e => e.Zone).FirstOrDefault()
            ?? zones.All.Select(z => z.Name).Order().FirstOrDefault(z => !view.ZonesUnreachable.Contains(z));
        if (zone is null)
            return;
        var host = zones[zone].Host;
        await GroupEndpoints.LeaseAsync(ports, db, group, host, ct);
        var spec = Spec(group, nodes, host);
        var hash = spec.Labels[Labels.SpecHash];
        if (view.EndpointRunning(group.Id) == hash)
            return;
        foreach (var (oldZone, container) in existing.Where(e => !e.Container.Running || e.Zone != zone || e.Container.Labels.GetValueOrDefault(Labels.SpecHash) != hash))
            await zones[oldZone].Runtime.RemoveAsync(container.Id, ct);
        await zones[zone].Runtime.RunAsync(spec, ct);
        view.EndpointStarted(group.Id, hash);
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

    private ContainerSpec Spec(ReplicationGroupEntity group, IReadOnlyList<ProxyNode> nodes, string host)
    {
        var image = options.Value.EndpointImage;
        var config = EndpointProxy.Config(group.Id, host, group.PrimaryEndpointPort!.Value, group.ReaderEndpointPort!.Value, nodes);
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
        return EndpointProxy.Spec(specs.ContainerName(GroupEndpoints.NodeLabel(group.Id)), image, group.Id, host,
            group.PrimaryEndpointPort.Value, group.ReaderEndpointPort.Value, nodes, labels);
    }
}
