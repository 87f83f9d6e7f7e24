using ControlPlane.Api.Engines;
using ControlPlane.Api.Monitoring;
using ControlPlane.Domain.Planning;

namespace ControlPlane.Api.Reconciliation.Actions;

/// <summary>REPLICAOF NO ONE on the new primary (cluster mode disabled); after a failover, the event says it completed.</summary>
public sealed class PromoteHandler(IRedisAdmin redis, ControlPlaneMetrics metrics) : ActionHandler<Promote, GroupRecord>
{
    public override bool ChangesRoles => true;

    protected override Task StepAsync(Promote action, GroupRecord record, ActionPass pass)
    {
        var promoted = pass.Place(action.NodeId);
        return redis.PromoteAsync(promoted.Host!, promoted.Port!.Value, pass.Ct);
    }

    protected override Task RecordAsync(Promote action, GroupRecord record, ActionPass pass)
    {
        if (action.FromNodeId is { } from)
        {
            pass.Event($"Failover from primary node {from} to replica node {action.NodeId} completed");
            metrics.FailoverCompleted();
        }
        return Task.CompletedTask;
    }
}
