using System.Security.Cryptography;
using System.Text;
using ControlPlane.Api.Data;
using ControlPlane.Api.Options;
using ControlPlane.Api.Runtime;
using ControlPlane.Domain;
using Microsoft.Extensions.Options;

namespace ControlPlane.Api.Reconciliation;

/// <summary>
/// The primary and reader endpoints of a cluster-mode-disabled group: one HAProxy container whose
/// health checks follow the role of each node, so a failover needs no reconfiguration. It lists the
/// nodes that are wired (available) or failed; a replacement joins it once it is available, and
/// only that changes the configuration (and so the container).
/// </summary>
public sealed class GroupEndpoints(ZoneRegistry zones, NodeSpecs specs, PortAllocator ports, IOptions<ControlPlaneOptions> options)
{
    public static string NodeLabel(string groupId) => $"{groupId}-endpoint";

    public static IReadOnlyList<string> LeaseIds(string groupId) => [$"{groupId}/primary-endpoint", $"{groupId}/reader-endpoint"];

    /// <param name="wiredNow">The nodes still marked creating are wired, and become available with this step.</param>
    public async Task EnsureAsync(ControlPlaneDbContext db, ReplicationGroupEntity group, ContainerView view, bool wiredNow, CancellationToken ct)
    {
        var nodes = group.Shards.SelectMany(s => s.Nodes)
            .Where(n => n.Port is not null && n.Host is not null
                && (n.Status is NodeStatus.Available or NodeStatus.Failed || (wiredNow && n.Status == NodeStatus.Creating)))
            .Select(n => new ProxyNode(n.Id, n.Host!, n.Port!.Value)).ToList();
        if (nodes.Count == 0)
            return;
        var label = NodeLabel(group.Id);
        var existing = view.ByZone.Where(z => z.Value is not null)
            .SelectMany(z => z.Value!.Where(c => c.Labels.GetValueOrDefault(Labels.Node) == label).Select(c => (Zone: z.Key, Container: c)))
            .ToList();
        // Stay where it runs; otherwise the first zone that answers.
        var zone = existing.Where(e => e.Container.Running).Select(e => e.Zone).FirstOrDefault()
            ?? zones.All.Select(z => z.Name).Order().FirstOrDefault(z => !view.ZonesUnreachable.Contains(z));
        if (zone is null)
            return;
        var host = zones[zone].Host;
        if (group.PrimaryEndpointPort is null || group.ReaderEndpointPort is null || group.EndpointHost != host)
        {
            await PortAllocator.ReleaseAsync(db, LeaseIds(group.Id).ToList(), ct);
            var assigned = new int[2];
            await ports.AllocateAsync(db, LeaseIds(group.Id).Select((id, i) => (id, host, (Action<int>)(p => assigned[i] = p))).ToList(), ct);
            (group.EndpointHost, group.PrimaryEndpointPort, group.ReaderEndpointPort) = (host, assigned[0], assigned[1]);
        }
        var spec = Spec(group, nodes, host);
        var hash = spec.Labels[Labels.SpecHash];
        if (view.EndpointRunning(group.Id) == hash)
            return;
        foreach (var (oldZone, container) in existing.Where(e => !e.Container.Running || e.Zone != zone || e.Container.Labels.GetValueOrDefault(Labels.SpecHash) != hash))
            await zones[oldZone].Runtime.RemoveAsync(container.Id, ct);
        await zones[zone].Runtime.RunAsync(spec, ct);
        view.EndpointStarted(group.Id, hash);
    }

    /// <summary>Removes the proxy wherever it runs and releases its ports (delete, create-failed).</summary>
    public async Task RemoveAsync(ControlPlaneDbContext db, string groupId, ContainerView view, CancellationToken ct)
    {
        foreach (var zone in zones.All.Where(z => !view.ZonesUnreachable.Contains(z.Name)))
            await zone.Runtime.RemoveAsync(specs.ContainerName(NodeLabel(groupId)), ct);
        await PortAllocator.ReleaseAsync(db, LeaseIds(groupId).ToList(), ct);
    }

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
            [Labels.Node] = NodeLabel(group.Id),
            [Labels.SpecHash] = hash,
        };
        return EndpointProxy.Spec(specs.ContainerName(NodeLabel(group.Id)), image, group.Id, host,
            group.PrimaryEndpointPort.Value, group.ReaderEndpointPort.Value, nodes, labels);
    }
}
