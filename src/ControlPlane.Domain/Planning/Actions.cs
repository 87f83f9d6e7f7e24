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

/// <summary>The create cannot finish: the group becomes create-failed with this reason.</summary>
public sealed record Fail(string Reason) : NodeAction;

public sealed record ReleaseAll : NodeAction;

/// <summary>The shard's best replica becomes its primary; the failed primary is recorded as a replica to replace. Stored before anything is done.</summary>
public sealed record Failover(string ShardId, string FromNodeId, string ToNodeId) : NodeAction;

/// <summary>REPLICAOF NO ONE on the new primary (cluster mode disabled), after the old one is fenced.</summary>
public sealed record Promote(string NodeId, string? FromNodeId) : NodeAction;

/// <summary>CLUSTER FAILOVER TAKEOVER on the new primary: it takes the slots without waiting for a vote.</summary>
public sealed record ClusterTakeover(string NodeId, string? FromNodeId) : NodeAction;

/// <summary>CLUSTER FORGET a node that is gone, on one live node (the plan asks it of every live node at once).</summary>
public sealed record ClusterForget(string NodeId, string ClusterId) : NodeAction;

/// <summary>A failed node gives way to a new node (new id, new port) in the given zone.</summary>
public sealed record ReplaceNode(string NodeId, string Zone, bool AsPrimary = false, bool DataLost = false) : NodeAction;

/// <summary>A test failover is taken: the shard's primary is treated exactly as if it had failed.</summary>
public sealed record StartTestFailover(string ShardId, string NodeId) : NodeAction;

/// <summary>CLUSTER SET-CONFIG-EPOCH on a fresh primary, before it meets anyone: distinct epochs settle slot ownership at once.</summary>
public sealed record SetConfigEpoch(string NodeId, long Epoch) : NodeAction;

/// <summary>A node that is no longer wanted goes: its container, its port and its row. Only once every node that stays or replaces it serves.</summary>
public sealed record RemoveNode(string NodeId) : NodeAction;
