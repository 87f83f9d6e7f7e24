using ControlPlane.Api.Engines;
using ControlPlane.Domain.Planning;

namespace ControlPlane.Api.Reconciliation.Actions;

/// <summary>REPLICAOF the shard's primary (cluster mode disabled).</summary>
public sealed class ReplicateFromHandler(IRedisAdmin redis) : ActionHandler<ReplicateFrom, GroupRecord>
{
    protected override Task StepAsync(ReplicateFrom action, GroupRecord record, ActionPass pass)
    {
        var (replica, primary) = (pass.Place(action.NodeId), pass.Place(action.PrimaryNodeId));
        return redis.ReplicaOfAsync(replica.Host!, replica.Port!.Value, primary.Host!, primary.Port!.Value, pass.Ct);
    }
}
