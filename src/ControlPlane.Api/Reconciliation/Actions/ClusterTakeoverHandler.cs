using ControlPlane.Api.Engines;
using ControlPlane.Api.Monitoring;
using ControlPlane.Domain.Planning;

namespace ControlPlane.Api.Reconciliation.Actions;

/// <summary>CLUSTER FAILOVER TAKEOVER on the new primary (cluster mode enabled); after a failover, the event says it completed.</summary>
public sealed class ClusterTakeoverHandler(IRedisAdmin redis, ControlPlaneMetrics metrics) : ActionHandler<ClusterTakeover, GroupRecord>
{
    public override bool ChangesRoles => true;

    protected override Task StepAsync(ClusterTakeover action, GroupRecord record, ActionPass pass)
    {
        var takeover = pass.Place(action.NodeId);
        return redis.ClusterFailoverAsync(takeover.Host!, takeover.Port!.Value, ClusterFailoverMode.Takeover, pass.Ct);
    }

    protected override Task RecordAsync(ClusterTakeover action, GroupRecord record, ActionPass pass)
    {
        if (action.FromNodeId is { } from)
        {
            pass.Event($"Failover from primary node {from} to replica node {action.NodeId} completed");
            metrics.FailoverCompleted();
        }
        return Task.CompletedTask;
    }
}
