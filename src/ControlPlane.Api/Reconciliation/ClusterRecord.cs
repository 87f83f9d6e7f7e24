using ControlPlane.Api.Data;
using ControlPlane.Domain;
using ControlPlane.Domain.Planning;

namespace ControlPlane.Api.Reconciliation;

/// <summary>What the executor writes back for a Memcached cache cluster: its nodes and its status (no shards, no roles).</summary>
public sealed class ClusterRecord(ControlPlaneDbContext db, CacheClusterEntity cluster, TimeProvider time) : ITargetRecord
{
    private CacheNodeEntity Node(string id) => cluster.Nodes.First(n => n.Id == id);

    public CacheClusterEntity Entity => cluster;

    public SourceType SourceType => SourceType.CacheCluster;
    public string Id => cluster.Id;
    public bool Creating => cluster.Status == CacheClusterStatus.Creating;

    public NodeStatus StatusOf(string nodeId) => Node(nodeId).Status;

    public void MarkNode(string nodeId, NodeStatus status, NodeRole role) => Node(nodeId).Status = status;

    public void MarkParameterStatus(string nodeId, string? status) => Node(nodeId).ParameterGroupStatus = status;

    public void MarkGroup(GroupStatus status)
    {
        if (status == GroupStatus.IncompatibleNetwork)
            cluster.Status = CacheClusterStatus.IncompatibleNetwork;
        if (status == GroupStatus.Available)
        {
            cluster.Status = CacheClusterStatus.Available;
            cluster.ObservedGeneration = cluster.Generation;
            cluster.PendingChanges = null;
        }
        cluster.UpdatedAt = time.GetUtcNow();
    }

    /// <summary>A replacement starts as replacing; a node a scale-out added starts as creating.</summary>
    public bool IsReplacement(string nodeId) => Node(nodeId).Status == NodeStatus.Replacing;

    public void AssignPort(string nodeId, string host, int port) => (Node(nodeId).Host, Node(nodeId).Port) = (host, port);

    public string Replace(string nodeId, string zone, bool asPrimary)
    {
        var old = Node(nodeId);
        // Ids are never reused, not even those of nodes removed by a scale-in.
        var next = Math.Max(cluster.LastNodeOrdinal, cluster.Nodes.Max(n => Identifiers.Ordinal(n.Id))) + 1;
        cluster.LastNodeOrdinal = next;
        // Replacing, not creating: when it serves, the event says a recovery finished rather than a node was added.
        var replacement = new CacheNodeEntity
        {
            Id = Identifiers.MemcachedNodeId(cluster.Id, next), CacheClusterId = cluster.Id, AvailabilityZone = zone,
            Status = NodeStatus.Replacing, CreatedAt = time.GetUtcNow(),
        };
        cluster.Nodes.Remove(old);
        db.CacheNodes.Remove(old);
        cluster.Nodes.Add(replacement);
        db.CacheNodes.Add(replacement);
        return replacement.Id;
    }

    public void Remove() => db.CacheClusters.Remove(cluster);

    /// <summary>Rebooted in place, one at a time (each comes back empty); what was scheduled for them is done with.</summary>
    public void StartRefresh(IReadOnlyList<string> nodeIds)
    {
        cluster.Status = CacheClusterStatus.Modifying;
        cluster.PendingChanges = new PendingChanges { RebootNodes = nodeIds };
        (cluster.ScheduledChanges, cluster.ScheduledAt) = (null, null);
    }

    /// <summary>The maintenance scheduler turns the outdated nodes into reboots when the window opens.</summary>
    public void ScheduleRefresh(IReadOnlyList<string> nodeIds, DateTimeOffset at) =>
        (cluster.ScheduledChanges, cluster.ScheduledAt) = (new PendingChanges { OutdatedNodes = nodeIds }, at);

    public void Rebooted(string nodeId)
    {
        cluster.PendingChanges = cluster.PendingChanges?.Rebooted(nodeId);
        Node(nodeId).ParameterGroupStatus = null;
    }

    public void RemoveNode(string nodeId)
    {
        var node = Node(nodeId);
        cluster.Nodes.Remove(node);
        db.CacheNodes.Remove(node);
    }

    public void CreateFailed()
    {
        cluster.Status = CacheClusterStatus.CreateFailed;
        foreach (var node in cluster.Nodes)
            (node.Status, node.Host, node.Port) = (NodeStatus.Failed, null, null);
    }
}
