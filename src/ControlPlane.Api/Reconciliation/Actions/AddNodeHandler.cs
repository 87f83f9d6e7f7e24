using ControlPlane.Api.Runtime;
using ControlPlane.Domain.Planning;

namespace ControlPlane.Api.Reconciliation.Actions;

/// <summary>A modification adds a node to a shard: its row now, its port and container in the next steps.</summary>
public sealed class AddNodeHandler : ActionHandler<AddNode, GroupRecord>
{
    protected override Task RecordAsync(AddNode action, GroupRecord record, ActionPass pass)
    {
        var added = record.AddNode(action.ShardId, action.Role, action.Zone, action.NodeType);
        pass.Event($"Added cache node {added} in availability zone {action.Zone}");
        return Task.CompletedTask;
    }
}
