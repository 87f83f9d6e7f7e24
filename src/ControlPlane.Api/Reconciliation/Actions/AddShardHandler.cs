using ControlPlane.Api.Runtime;
using ControlPlane.Domain.Planning;

namespace ControlPlane.Api.Reconciliation.Actions;

/// <summary>Scale-out: a new shard with no slots yet and its nodes' rows; slots move to it once it serves.</summary>
public sealed class AddShardHandler : ActionHandler<AddShard, GroupRecord>
{
    protected override Task RecordAsync(AddShard action, GroupRecord record, ActionPass pass)
    {
        var nodes = record.AddShard(action.ShardId, action.PrimaryZone, action.ReplicaZones, action.NodeType);
        pass.Event($"Added node group {action.ShardId} with cache nodes {string.Join(", ", nodes)}");
        return Task.CompletedTask;
    }
}
