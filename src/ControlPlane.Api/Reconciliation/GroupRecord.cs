using ControlPlane.Api.Data;
using ControlPlane.Domain;
using ControlPlane.Domain.Planning;

namespace ControlPlane.Api.Reconciliation;

/// <summary>What the executor writes back for a Redis replication group: nodes, shards, slots and the group's status.</summary>
public sealed class GroupRecord(ControlPlaneDbContext db, ReplicationGroupEntity group, TimeProvider time) : ITargetRecord
{
    private IEnumerable<RedisNodeEntity> Nodes => group.Shards.SelectMany(s => s.Nodes);

    private RedisNodeEntity Node(string id) => Nodes.First(n => n.Id == id);

    public SourceType SourceType => SourceType.ReplicationGroup;
    public string Id => group.Id;
    public bool Creating => group.Status == GroupStatus.Creating;

    public NodeStatus StatusOf(string nodeId) => Node(nodeId).Status;

    public void MarkNode(string nodeId, NodeStatus status, NodeRole role) => (Node(nodeId).Status, Node(nodeId).Role) = (status, role);

    public void MarkParameterStatus(string nodeId, string? status) => Node(nodeId).ParameterGroupStatus = status;

    public void MarkShard(string shardId, ShardStatus status) => group.Shards.First(s => s.Id == shardId).Status = status;

    public void MarkGroup(GroupStatus status)
    {
        group.Status = status;
        group.UpdatedAt = time.GetUtcNow();
        if (status == GroupStatus.Available)
        {
            group.ObservedGeneration = group.Generation;
            group.PendingChanges = null;
        }
    }

    public void AssignPort(string nodeId, string host, int port) => (Node(nodeId).Host, Node(nodeId).Port) = (host, port);

    public string Replace(string nodeId, string zone, bool asPrimary)
    {
        var old = Node(nodeId);
        var shard = group.Shards.First(s => s.Id == old.ShardId);
        var replacement = NewNode(shard, NextOrdinal(), asPrimary ? NodeRole.Primary : NodeRole.Replica, zone, group.NodeType);
        replacement.ReplacesNodeId = old.Id;
        shard.Nodes.Remove(old);
        db.RedisNodes.Remove(old);
        return replacement.Id;
    }

    public bool IsReplacement(string nodeId) => Node(nodeId).ReplacesNodeId is not null;

    /// <summary>The group as stored, for steps that act on the whole group (snapshots).</summary>
    public ReplicationGroupEntity Entity => group;

    /// <summary>Replaced one by one, as for a node type change (the target's Refresh).</summary>
    public void StartRefresh(IReadOnlyList<string> nodeIds)
    {
        MarkGroup(GroupStatus.Modifying);
        group.PendingChanges = new PendingChanges { OutdatedNodes = nodeIds };
    }

    public void ScheduleRefresh(IReadOnlyList<string> nodeIds, DateTimeOffset at) =>
        (group.ScheduledChanges, group.ScheduledAt) = (new PendingChanges { OutdatedNodes = nodeIds }, at);

    /// <summary>The reboot started the node with its group's start-up values (its immediate ones are set again as soon as the group is available).</summary>
    public void Rebooted(string nodeId)
    {
        group.PendingChanges = group.PendingChanges?.Rebooted(nodeId);
        Node(nodeId).ParameterGroupStatus = null;
    }

    /// <summary>A node a modification adds to a shard; returns its id (the next ordinal of the shard).</summary>
    public string AddNode(string shardId, NodeRole role, string zone, string nodeType)
    {
        var shard = group.Shards.First(s => s.Id == shardId);
        return NewNode(shard, NextOrdinal(), role, zone, nodeType).Id;
    }

    /// <summary>A new shard with no slots yet; returns the ids of its nodes, the primary first.</summary>
    public IReadOnlyList<string> AddShard(string shardId, string primaryZone, IReadOnlyList<string> replicaZones, string nodeType)
    {
        var shard = new ShardEntity { ReplicationGroupId = group.Id, Id = shardId, Slots = "", Status = ShardStatus.Creating };
        group.Shards.Add(shard);
        db.Shards.Add(shard);
        return [NewNode(shard, NextOrdinal(), NodeRole.Primary, primaryZone, nodeType).Id,
            .. replicaZones.Select(zone => NewNode(shard, NextOrdinal(), NodeRole.Replica, zone, nodeType).Id)];
    }

    public void RemoveNode(string nodeId)
    {
        var node = Node(nodeId);
        group.Shards.First(s => s.Id == node.ShardId).Nodes.Remove(node);
        db.RedisNodes.Remove(node);
    }

    public void RemoveShard(string shardId)
    {
        var shard = group.Shards.First(s => s.Id == shardId);
        group.Shards.Remove(shard);
        db.Shards.Remove(shard);
    }

    /// <summary>A reshard given up: node groups that were leaving stay, the shard count is what there is, and the group is available.</summary>
    public int GiveUpReshard()
    {
        foreach (var shard in group.Shards.Where(s => s.Status == ShardStatus.Deleting))
            shard.Status = ShardStatus.Available;
        group.NumShards = group.Shards.Count;
        MarkGroup(GroupStatus.Available);
        return group.NumShards;
    }

    public string? ShardSlots(string shardId) => group.Shards.FirstOrDefault(s => s.Id == shardId)?.Slots;

    public void SetShardSlots(string shardId, string slots) => group.Shards.First(s => s.Id == shardId).Slots = slots;

    /// <summary>Progress of the slot migration, shown in pendingChanges.slotMigration; the total is given when the plan is stored.</summary>
    public void SlotMigrationProgress(int? total, int remaining) =>
        group.PendingChanges = (group.PendingChanges ?? PendingChanges.None).WithSlotMigration(total, remaining);

    /// <summary>
    /// Ids are never reused, even for a shard id that comes back after a scale-in: the next ordinal is
    /// past every one the group has handed out, in any shard.
    /// </summary>
    private int NextOrdinal()
    {
        var highest = group.Shards.SelectMany(s => s.Nodes).Select(n => Identifiers.Ordinal(n.Id)).DefaultIfEmpty(0).Max();
        group.LastNodeOrdinal = Math.Max(group.LastNodeOrdinal, highest) + 1;
        return group.LastNodeOrdinal;
    }

    private RedisNodeEntity NewNode(ShardEntity shard, int ordinal, NodeRole role, string zone, string nodeType)
    {
        var node = new RedisNodeEntity
        {
            Id = Identifiers.RedisNodeId(group.Id, shard.Id, ordinal), ReplicationGroupId = group.Id, ShardId = shard.Id,
            Role = role, AvailabilityZone = zone, Status = NodeStatus.Creating, NodeType = nodeType, CreatedAt = time.GetUtcNow(),
            Engine = group.Engine, EngineVersion = group.EngineVersion, TransitEncryptionMode = group.TransitEncryptionMode,
            // In sync only once the reconciler has set its parameter group's values on it.
            ParameterGroupStatus = Domain.Parameters.ParameterStatus.Applying,
        };
        shard.Nodes.Add(node);
        db.RedisNodes.Add(node);
        return node;
    }

    public void Remove() => db.ReplicationGroups.Remove(group);

    public void CreateFailed()
    {
        group.Status = GroupStatus.CreateFailed;
        foreach (var node in Nodes)
            (node.Status, node.Host, node.Port) = (NodeStatus.Failed, null, null);
    }
}
