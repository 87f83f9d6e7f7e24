using ControlPlane.Domain;
using ControlPlane.Domain.Planning;

namespace ControlPlane.Api.Reconciliation.Actions;

/// <summary>
/// The decision that a replica takes over its shard: stored before anything is done, so a control
/// plane that dies here finishes the failover after restart. The failed primary is recorded as a replica to replace.
/// </summary>
public sealed class FailoverHandler : ActionHandler<Failover, GroupRecord>
{
    public override bool IsDecision => true;

    protected override Task RecordAsync(Failover action, GroupRecord record, ActionPass pass)
    {
        record.MarkNode(action.FromNodeId, NodeStatus.Failed, NodeRole.Replica);
        record.MarkNode(action.ToNodeId, NodeStatus.Available, NodeRole.Primary);
        return Task.CompletedTask;
    }
}
