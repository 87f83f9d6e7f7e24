using ControlPlane.Api.Runtime;
using ControlPlane.Domain;
using ControlPlane.Domain.Planning;

namespace ControlPlane.Api.Reconciliation.Actions;

/// <summary>A node's status and role; the event says what it means for the group (failed, recovered, added).</summary>
public sealed class MarkNodeHandler : ActionHandler<MarkNode, ITargetRecord>
{
    protected override Task RecordAsync(MarkNode action, ITargetRecord record, ActionPass pass)
    {
        var was = record.StatusOf(action.NodeId);
        var serves = action.Status == NodeStatus.Available && !record.Creating;
        // A Memcached node that was creating in a cluster that exists was added by a scale-out; a replacement is replacing.
        var added = serves && was == NodeStatus.Creating && record.SourceType == SourceType.CacheCluster;
        var recovered = serves && !added && (was == NodeStatus.Replacing || (was == NodeStatus.Creating && record.IsReplacement(action.NodeId)));
        record.MarkNode(action.NodeId, action.Status, action.Role);
        if (action.Status == NodeStatus.Failed)
            pass.Event($"Cache node {action.NodeId} failed");
        if (was == NodeStatus.Failed && action.Status == NodeStatus.Creating)
            pass.Event($"Cache node {action.NodeId} answers again: it is kept, and serves as a replica once it has synced");
        if (recovered)
            pass.Event($"Finished recovery for cache nodes {action.NodeId}");
        if (added)
            pass.Event($"Added cache node {action.NodeId} in availability zone {pass.Place(action.NodeId).Zone}");
        return Task.CompletedTask;
    }
}
