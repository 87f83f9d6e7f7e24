using ControlPlane.Api.Engines;
using ControlPlane.Domain.Planning;

namespace ControlPlane.Api.Reconciliation.Actions;

/// <summary>CLUSTER REPLICATE the shard's primary (by the cluster id it was observed with).</summary>
public sealed class ClusterReplicateHandler(IRedisAdmin redis) : ActionHandler<ClusterReplicate, GroupRecord>
{
    protected override Task StepAsync(ClusterReplicate action, GroupRecord record, ActionPass pass)
    {
        var node = pass.Place(action.NodeId);
        return redis.ClusterReplicateAsync(node.Host!, node.Port!.Value, pass.Observed[action.PrimaryNodeId].ClusterId!, pass.Ct);
    }
}
