using ControlPlane.Api.Runtime;
using ControlPlane.Api.Engines;

namespace ControlPlane.Api.Reconciliation.Actions;

/// <summary>Removes a node's container and forgets what the control plane held of it (its place in the view, its probes, its connections).</summary>
public sealed class NodeRemover(ZoneRegistry zones, Observer observer, IRedisAdmin redis, ISlotMover mover)
{
    public async Task RemoveAsync(NodePlace node, ContainerView view, CancellationToken ct)
    {
        await zones[node.Zone].Runtime.RemoveAsync(node.ContainerName, ct);
        view.Removed(node.NodeId);
        observer.Forget(node);
        if (node.Port is { } port)
        {
            await redis.DisconnectAsync(node.Host!, port);
            await mover.DisconnectAsync(node.Host!, port);
        }
    }
}
