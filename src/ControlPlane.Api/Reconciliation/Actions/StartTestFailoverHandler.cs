using ControlPlane.Domain;
using ControlPlane.Domain.Planning;
using Microsoft.EntityFrameworkCore;

namespace ControlPlane.Api.Reconciliation.Actions;

/// <summary>A test failover is taken: the shard's primary is marked failed, as if it had, and the request is done.</summary>
public sealed class StartTestFailoverHandler(TimeProvider time) : ActionHandler<StartTestFailover, GroupRecord>
{
    protected override async Task RecordAsync(StartTestFailover action, GroupRecord record, ActionPass pass)
    {
        record.MarkNode(action.NodeId, NodeStatus.Failed, NodeRole.Primary);
        await pass.Db.TestFailovers.Where(x => x.ReplicationGroupId == record.Id && x.ShardId == action.ShardId && x.CompletedAt == null)
            .ExecuteUpdateAsync(u => u.SetProperty(x => x.CompletedAt, time.GetUtcNow()), pass.Ct);
    }
}
