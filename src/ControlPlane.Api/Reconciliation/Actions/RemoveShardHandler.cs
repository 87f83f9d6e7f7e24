using ControlPlane.Domain.Planning;

namespace ControlPlane.Api.Reconciliation.Actions;

/// <summary>A leaving shard whose slots have moved and whose nodes are gone is deleted.</summary>
public sealed class RemoveShardHandler : ActionHandler<RemoveShard, GroupRecord>
{
    protected override Task RecordAsync(RemoveShard action, GroupRecord record, ActionPass pass)
    {
        record.RemoveShard(action.ShardId);
        pass.Event($"Removed node group {action.ShardId}");
        return Task.CompletedTask;
    }
}
