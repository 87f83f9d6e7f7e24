namespace ControlPlane.Domain.Planning;

/// <summary>One node as stored: who it should be. Port is null until the control plane allocated one.</summary>
public sealed record DesiredNode(string Id, string? ShardId, NodeRole Role, string Zone, NodeStatus Status, int? Port);

public sealed record DesiredShard(string Id, string Slots, ShardStatus Status, IReadOnlyList<DesiredNode> Nodes)
{
    public DesiredNode Primary => Nodes.First(n => n.Role == NodeRole.Primary);
}

/// <summary>A Redis group as stored.</summary>
public sealed record DesiredGroup(string Id, ClusterMode ClusterMode, GroupStatus Status, IReadOnlyList<DesiredShard> Shards)
{
    public IEnumerable<DesiredNode> Nodes => Shards.SelectMany(s => s.Nodes);
}

/// <summary>A Memcached cluster as stored.</summary>
public sealed record DesiredCluster(string Id, CacheClusterStatus Status, IReadOnlyList<DesiredNode> Nodes);

/// <summary>What the container engine says of a node's container.</summary>
public enum ContainerState { Missing, Running, Exited, Outdated, ZoneUnreachable }

/// <summary>
/// What one pass saw of one node: its container and, when it answers, its engine. The master and
/// cluster ids are already translated to our node ids by the observer.
/// </summary>
public sealed record ObservedNode(
    string NodeId,
    ContainerState Container,
    long? ExitCode = null,
    bool Reachable = false,
    bool IsPrimary = false,
    string? PrimaryNodeId = null,
    bool LinkUp = false,
    long Offset = 0,
    string? ClusterId = null,
    IReadOnlySet<string>? KnownNodeIds = null,
    string? ClusterPrimaryNodeId = null,
    string? OwnedSlots = null,
    bool ClusterStateOk = false)
{
    public static ObservedNode Missing(string nodeId) => new(nodeId, ContainerState.Missing);
}
