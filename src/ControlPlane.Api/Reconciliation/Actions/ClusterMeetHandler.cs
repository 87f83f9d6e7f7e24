using ControlPlane.Api.Engines;
using ControlPlane.Domain.Planning;

namespace ControlPlane.Api.Reconciliation.Actions;

/// <summary>CLUSTER MEET from a node in the cluster to one it does not know yet.</summary>
public sealed class ClusterMeetHandler(IRedisAdmin redis) : ActionHandler<ClusterMeet, GroupRecord>
{
    protected override Task StepAsync(ClusterMeet action, GroupRecord record, ActionPass pass)
    {
        var (seed, peer) = (pass.Place(action.NodeId), pass.Place(action.PeerNodeId));
        return redis.ClusterMeetAsync(seed.Host!, seed.Port!.Value, peer.Host!, peer.Port!.Value, pass.Ct);
    }
}
