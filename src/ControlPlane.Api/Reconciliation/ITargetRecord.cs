using ControlPlane.Api.Data;
using ControlPlane.Domain;

namespace ControlPlane.Api.Reconciliation;

/// <summary>
/// What the executor writes back, the same for a replication group (<see cref="GroupRecord"/>) and a
/// cache cluster (<see cref="ClusterRecord"/>). What only a replication group has (shards, slots, added
/// nodes) is on <see cref="GroupRecord"/> alone; the handlers of those actions take that record.
/// </summary>
public interface ITargetRecord
{
    SourceType SourceType { get; }
    string Id { get; }
    bool Creating { get; }
    NodeStatus StatusOf(string nodeId);
    void MarkNode(string nodeId, NodeStatus status, NodeRole role);

    /// <summary>The node's parameterGroupStatus (null: in sync).</summary>
    void MarkParameterStatus(string nodeId, string? status);
    void MarkGroup(GroupStatus status);
    void AssignPort(string nodeId, string host, int port);

    /// <summary>Removes the node's row and adds its replacement (a new id, no port yet, in the zone given); returns the new id.</summary>
    string Replace(string nodeId, string zone, bool asPrimary);

    void Remove();
    void CreateFailed();

    /// <summary>Whether a node that becomes available replaces a failed one (a recovery) rather than one a modification added.</summary>
    bool IsReplacement(string nodeId);

    /// <summary>Removes a node that is no longer wanted (its container is gone already).</summary>
    void RemoveNode(string nodeId);

    /// <summary>A node named by a reboot is back: it leaves the pending reboot list.</summary>
    void Rebooted(string nodeId);

    /// <summary>The nodes that run an outdated configuration are renewed now: the group turns modifying with them pending.</summary>
    void StartRefresh(IReadOnlyList<string> nodeIds);

    /// <summary>Their renewal waits for the maintenance window: it is scheduled for when the window opens.</summary>
    void ScheduleRefresh(IReadOnlyList<string> nodeIds, DateTimeOffset at);
}
