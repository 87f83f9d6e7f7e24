namespace ControlPlane.Domain.Planning;

/// <summary>A step the reconciler takes. Every step is idempotent: it checks the real state before it changes it.</summary>
public abstract record NodeAction;

public sealed record AllocatePort(string NodeId) : NodeAction;

public sealed record StartContainer(string NodeId) : NodeAction;

public sealed record RemoveContainer(string NodeId) : NodeAction;

/// <summary>REPLICAOF the primary (cluster mode disabled).</summary>
public sealed record ReplicateFrom(string NodeId, string PrimaryNodeId) : NodeAction;

/// <summary>CLUSTER MEET from a node that is in the cluster to one that is not known to it yet.</summary>
public sealed record ClusterMeet(string NodeId, string PeerNodeId) : NodeAction;

/// <summary>CLUSTER ADDSLOTSRANGE on a shard's primary, for slots nobody serves yet.</summary>
public sealed record AssignSlots(string NodeId, string Slots) : NodeAction;

/// <summary>CLUSTER REPLICATE the shard's primary.</summary>
public sealed record ClusterReplicate(string NodeId, string PrimaryNodeId) : NodeAction;

public sealed record MarkNode(string NodeId, NodeStatus Status, NodeRole Role) : NodeAction;

public sealed record MarkShard(string ShardId, ShardStatus Status) : NodeAction;

/// <summary>Converged for now: the group's status becomes this, with an event when it changes.</summary>
public sealed record MarkGroup(GroupStatus Status, string Message) : NodeAction;

/// <summary>Nothing to do but wait: a node is starting, gossip or a sync is under way.</summary>
public sealed record Wait(string Reason) : NodeAction;

/// <summary>
/// Nodes stopped answering while their containers run, all of a shard (or of a cluster) at once:
/// far more likely the control plane's own problem (starved, restarted, a blip) than theirs. Nothing
/// is failed over or replaced; the reason is told in an event and the probes go on.
/// </summary>
public sealed record Hold(string Reason) : NodeAction;

/// <summary>The create cannot finish (a node exited, the snapshot is unusable, the create timed out): the group becomes create-failed with this reason.</summary>
public sealed record Fail(string Reason) : NodeAction;

/// <summary>
/// Nodes run an outdated configuration (an older control plane's command line) and the maintenance
/// window allows it: the group turns modifying to renew them (Redis: replaced one by one like a node
/// type change; Memcached: rebooted in place), with this event.
/// </summary>
public sealed record StartRefresh(IReadOnlyList<string> NodeIds, string Message) : NodeAction;

/// <summary>Outdated nodes outside the maintenance window: their renewal is scheduled for when it opens, once, with this event; they serve as they are meanwhile.</summary>
public sealed record ScheduleRefresh(IReadOnlyList<string> NodeIds, DateTimeOffset At, string Message) : NodeAction;

/// <summary>
/// A group modifying for a transit encryption step: each serving node not at its mode moves one step
/// towards it (none -> preferred -> required), online; once every node accepts TLS, the replication
/// and cluster-bus links switch to it.
/// </summary>
public sealed record StepTransitEncryption : NodeAction;

/// <summary>A cache cluster's nodes whose certificates are due get renewed ones, online.</summary>
public sealed record RenewCertificates : NodeAction;

/// <summary>CONFIG SET the immediate values of the node's parameter group; a node that refuses them is asked again later, not thrown for.</summary>
public sealed record SetParameters(string NodeId) : NodeAction;

/// <summary>The node's parameterGroupStatus becomes this (null: in sync; see <see cref="Parameters.ParameterStatus"/>).</summary>
public sealed record MarkParameterStatus(string NodeId, string? Status) : NodeAction;

/// <summary>
/// The node is given its group's client users (its auth tokens, or its user group's users), online.
/// A node starts shut to clients and without the endpoint proxy's health user: it gets them before
/// anything makes it serve.
/// </summary>
public sealed record SetClientUsers(string NodeId) : NodeAction;

/// <summary>Every answering node holds the group's client users: the group says which user group revision that is ("id@revision"; null: none), and its users show active again.</summary>
public sealed record MarkClientAccess(string? Applied) : NodeAction;

/// <summary>A snapshotting group is healthy and converged: every snapshot it was asked for is taken, then it is available again.</summary>
public sealed record TakeSnapshots : NodeAction;

/// <summary>
/// A delete that asked for a final snapshot takes it before anything is removed. When it cannot be
/// taken, the group is not deleted: it is available again, and the events say why.
/// </summary>
public sealed record TakeFinalSnapshot(string Name) : NodeAction;

public sealed record ReleaseAll : NodeAction;

/// <summary>The shard's best replica becomes its primary; the failed primary is recorded as a replica to replace. Stored before anything is done.</summary>
public sealed record Failover(string ShardId, string FromNodeId, string ToNodeId) : NodeAction;

/// <summary>REPLICAOF NO ONE on the new primary (cluster mode disabled), after the old one is fenced.</summary>
public sealed record Promote(string NodeId, string? FromNodeId) : NodeAction;

/// <summary>CLUSTER FAILOVER TAKEOVER on the new primary: it takes the slots without waiting for a vote.</summary>
public sealed record ClusterTakeover(string NodeId, string? FromNodeId) : NodeAction;

/// <summary>CLUSTER FORGET a node that is gone, on one live node (the plan asks it of every live node at once).</summary>
public sealed record ClusterForget(string NodeId, string ClusterId) : NodeAction;

/// <summary>
/// A reboot: the node's engine starts again in place, with the same id, port and endpoint (a new
/// container for it only when its start-up options changed). KeepData: no replica holds its data, so
/// it saves its data set first (writes paused) and starts again from that file. Once it is back the
/// node leaves the reboot list.
/// </summary>
public sealed record RestartNode(string NodeId, bool KeepData = false) : NodeAction;

/// <summary>A failed node gives way to a new node (new id, new port) in the given zone.</summary>
public sealed record ReplaceNode(string NodeId, string Zone, bool AsPrimary = false, bool DataLost = false) : NodeAction;

/// <summary>A test failover is taken: the shard's primary is treated exactly as if it had failed.</summary>
public sealed record StartTestFailover(string ShardId, string NodeId) : NodeAction;

/// <summary>CLUSTER SET-CONFIG-EPOCH on a fresh primary, before it meets anyone: distinct epochs settle slot ownership at once.</summary>
public sealed record SetConfigEpoch(string NodeId, long Epoch) : NodeAction;

/// <summary>A modification adds a node to a shard (a replica, or the primary of a new shard), of the node type given.</summary>
public sealed record AddNode(string ShardId, NodeRole Role, string Zone, string NodeType) : NodeAction;

/// <summary>Scale-out: a new shard with no slots yet, its primary and replicas in the zones given.</summary>
public sealed record AddShard(string ShardId, string PrimaryZone, IReadOnlyList<string> ReplicaZones, string NodeType) : NodeAction;

/// <summary>A node marked deleting goes: its container is removed, its port released and its row deleted (Redis: once it is no primary; Memcached: once every node that stays serves).</summary>
public sealed record RemoveNode(string NodeId) : NodeAction;

/// <summary>A leaving shard whose slots have moved and whose nodes are gone is deleted.</summary>
public sealed record RemoveShard(string ShardId) : NodeAction;

/// <summary>
/// A planned, coordinated failover (no write lost): the old primary hands over to a synced replica
/// (FAILOVER TO, or CLUSTER FAILOVER on the replica); the roles are recorded once it has happened.
/// </summary>
public sealed record Switchover(string ShardId, string FromNodeId, string ToNodeId) : NodeAction;

/// <summary>The migration plan is stored before any slot moves; leaving shards are marked deleting.</summary>
public sealed record PlanSlotMoves(IReadOnlyList<SlotMove> Moves, IReadOnlyList<string> LeavingShardIds) : NodeAction;

/// <summary>Moves stored slots from one shard's primary to another's, for a bounded time; each moved slot is recorded.</summary>
public sealed record MoveSlots(string FromShardId, string ToShardId, IReadOnlyList<int> Slots) : NodeAction;
