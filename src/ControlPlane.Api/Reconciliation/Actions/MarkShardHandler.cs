using ControlPlane.Domain.Planning;

namespace ControlPlane.Api.Reconciliation.Actions;

/// <summary>A shard's status (a cache cluster has no shards).</summary>
public sealed class MarkShardHandler : ActionHandler<MarkShard, GroupRecord>
{
    protected override Task RecordAsync(MarkShard action, GroupRecord record, ActionPass pass)
    {
        record.MarkShard(action.ShardId, action.Status);
        return Task.CompletedTask;
    }
}
