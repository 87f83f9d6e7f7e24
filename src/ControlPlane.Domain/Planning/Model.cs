namespace ControlPlane.Domain.Planning;

/// <summary>
/// One node as stored: who it should be. Port is null until the control plane allocated one. Engine:
/// "engine version" it runs. Redis only: TransitEncryptionMode is what its port speaks, as its row
/// says (null: plain text); InnerPortsToRelease, that it serves TLS only on its port again and the
/// multiplexer of its preferred-mode days is gone per the listing, so its inner ports are still to
/// give back. Both engines: CertificateRenewAt, when its TLS certificate is due for renewal (null: it
/// speaks no TLS); Parameters, where it stands with its parameter group's values, for an available
/// node whose container runs (null otherwise).
/// </summary>
public sealed record DesiredNode(string Id, string? ShardId, NodeRole Role, string Zone, NodeStatus Status, int? Port, string NodeType = "", string Engine = "",
    string? TransitEncryptionMode = null, DateTimeOffset? CertificateRenewAt = null, bool InnerPortsToRelease = false,
    NodeParameters? Parameters = null);

/// <summary>
/// Where a node stands with its parameter group's values, as the reconciler knows it: Set, that the
/// immediate ones are set on the container it runs now (Redis, with CONFIG SET, in this process;
/// Memcached has none, so always); RefusedAt, when the node last refused those very values (null: it
/// has not); StartedWithWanted, that its container started with the group's start-up values; Status,
/// the parameterGroupStatus its row shows (null: in sync; see <see cref="Parameters.ParameterStatus"/>).
/// </summary>
public sealed record NodeParameters(bool Set, bool StartedWithWanted, string? Status = null, DateTimeOffset? RefusedAt = null);

public sealed record DesiredShard(string Id, string Slots, ShardStatus Status, IReadOnlyList<DesiredNode> Nodes)
{
    public DesiredNode Primary => Nodes.First(n => n.Role == NodeRole.Primary);
}

/// <summary>
/// A Redis group as stored. TestFailoverShards are the shards whose test failover was asked for and
/// not taken yet. Target is what a modification under way asks of the topology (null when none is);
/// Moves are the slots of a stored migration plan that have not moved yet. CreatedAt starts the
/// create timeout; Window is the maintenance window node-replacing work waits for; Pending and
/// Scheduled are the changes under way and those waiting for the window; RestoreFromSnapshot names
/// the snapshot a create restores; FinalSnapshot the one a delete must take first (null once taken);
/// TransitEncryptionMode the mode every node's port should speak (null: plain text). ClientAccess is
/// the revision of its user group its nodes should hold ("id@revision"; null without one), and
/// ClientAccessApplied the one the group says they hold (what users and user groups show active by).
/// </summary>
public sealed record DesiredGroup(
    string Id, ClusterMode ClusterMode, GroupStatus Status, IReadOnlyList<DesiredShard> Shards,
    bool AutomaticFailover = true, IReadOnlySet<string>? TestFailoverShards = null,
    GroupTarget? Target = null, IReadOnlyList<SlotMove>? Moves = null,
    DateTimeOffset CreatedAt = default, MaintenanceWindow? Window = null, PendingChanges? Pending = null, PendingChanges? Scheduled = null,
    string? RestoreFromSnapshot = null,
    string? FinalSnapshot = null,
    string? TransitEncryptionMode = null,
    string? ClientAccess = null, string? ClientAccessApplied = null)
{
    public IEnumerable<DesiredNode> Nodes => Shards.SelectMany(s => s.Nodes);
}

/// <summary>
/// The shape a modification asks for: shard count, replicas per shard and node type. Reshard is set
/// when the shard count changed or a rebalance was asked: only then are slots moved. Refresh is set
/// when nodes run an outdated configuration (an older control plane's command line): they are
/// replaced like nodes of another type. Reboot names nodes still to restart: one shard at a time,
/// replicas first, each restarted in place (it resyncs from its primary), a primary handing over to a
/// synced replica first; a node leaves the list once it is back. Engine ("engine version") is set by an in-place upgrade: nodes running
/// another are replaced the same way, replicas first, the old primary last.
/// </summary>
public sealed record GroupTarget(int NumShards, int ReplicasPerShard, string NodeType, bool Reshard = false, bool Refresh = false,
    IReadOnlySet<string>? Reboot = null, string? Engine = null)
{
    /// <summary>The target of a modification with these pending changes, toward the shape stored (engine: "engine version").</summary>
    public static GroupTarget For(PendingChanges pending, int numShards, int replicasPerShard, string nodeType, string engine) =>
        new(numShards, replicasPerShard, nodeType, pending.Reshards, pending.OutdatedNodes is not null,
            pending.RebootNodes?.ToHashSet(), pending.Upgrades ? engine : null);
}

/// <summary>One slot of a stored migration plan: it moves from one shard to another.</summary>
public sealed record SlotMove(int Slot, string FromShardId, string ToShardId);

/// <summary>
/// A Memcached cluster as stored. Reboot names the nodes still to restart (in place, empty, as on
/// ElastiCache). CreatedAt, Window and Scheduled as for <see cref="DesiredGroup"/>.
/// </summary>
public sealed record DesiredCluster(string Id, CacheClusterStatus Status, IReadOnlyList<DesiredNode> Nodes, IReadOnlySet<string>? Reboot = null,
    DateTimeOffset CreatedAt = default, MaintenanceWindow? Window = null, PendingChanges? Scheduled = null);

/// <summary>
/// The zones there are, those whose engine does not answer now, and those down for longer than the
/// grace (replacements then go elsewhere). Stale marks an observation remembered from an earlier probe.
/// </summary>
public sealed record PlanContext(IReadOnlyList<string> Zones, IReadOnlySet<string> ZonesDown, IReadOnlySet<string>? ZonesUnreachable = null)
{
    /// <summary>How long a create may wait (on nodes starting, sync, gossip) before it fails; null: for ever.</summary>
    public TimeSpan? CreateTimeout { get; init; }

    /// <summary>Why the snapshot a create restores cannot be used (its files fail their checks), when that was found.</summary>
    public string? RestoreProblem { get; init; }

    public static readonly PlanContext None = new([], new HashSet<string>());

    public bool Unreachable(string zone) => ZonesDown.Contains(zone) || (ZonesUnreachable?.Contains(zone) ?? false);
}

/// <summary>What the container engine says of a node's container.</summary>
public enum ContainerState { Missing, Running, Exited, Outdated, ZoneUnreachable }

/// <summary>
/// What one pass saw of one node: its container and, when it answers, its engine. The master and
/// cluster ids are already translated to our node ids by the observer. Lagging marks a replica with
/// its link up that its own primary does not list as an online replica, or whose offset has not
/// reached where that primary was one probe earlier: it may not have the data yet. In cluster mode,
/// KnownNodeIds are the group's nodes it knows and ViewClusterIds every cluster node id in its view
/// (its own may be among them); nodes that see the same may share one set instance. HoldsUsers (Redis):
/// the node holds its group's client users as they are now. No probe reads them back: the reconciler
/// remembers what it wrote to each node's container, and forgets it when the engine restarts. A Redis
/// node is always told one way or the other; the default suits a Memcached node, which has none.
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
    bool ClusterStateOk = false,
    IReadOnlySet<string>? ViewClusterIds = null,
    string? ClusterMasterId = null,
    bool Stale = false,
    long ConfigEpoch = 0,
    bool Lagging = false,
    IReadOnlySet<string>? OnlineReplicas = null,
    long? Keys = null,
    bool HoldsUsers = true)
{
    public static ObservedNode Missing(string nodeId) => new(nodeId, ContainerState.Missing);

    /// <summary>The engine says the container is gone or exited: certain evidence of death.</summary>
    public bool Gone => Container is ContainerState.Missing or ContainerState.Exited;

    /// <summary>Its container runs (or its zone does not answer) but the engine inside has missed enough probes: a suspicion.</summary>
    public bool Unanswering => !Gone && !Reachable && !Stale;

    /// <summary>Not answered yet since this control plane started, and not missed often enough to suspect: nothing is known.</summary>
    public bool Unknown => !Gone && !Reachable && Stale;
}
