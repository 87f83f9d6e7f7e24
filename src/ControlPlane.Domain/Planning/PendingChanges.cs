namespace ControlPlane.Domain.Planning;

/// <summary>A field a change sets, to a value that may be nothing (a transit encryption mode turned off, the default parameter group).</summary>
public sealed record Change<T>(T To);

/// <summary>How far a reshard's slot migration is: the slots planned, and the share of them moved.</summary>
public sealed record SlotMigration(int TotalSlots, double ProgressPercentage);

/// <summary>
/// What a group or cluster should still become: the changes a request (or the control plane itself)
/// asked for that the reconciler has not carried out yet, and those that wait for the maintenance
/// window. A field left null is not part of the change. It is stored as JSON (one mapper in the
/// API's Data folder) and shown as pendingChanges, with the same field names.
/// </summary>
public sealed record PendingChanges
{
    /// <summary>Replication groups: the shard count changes (the slots move).</summary>
    public int? NumShards { get; init; }

    /// <summary>Replication groups: the slots are spread evenly again over the shards there are.</summary>
    public bool Rebalance { get; init; }

    public int? ReplicasPerShard { get; init; }
    public string? NodeType { get; init; }
    public string? Engine { get; init; }
    public string? EngineVersion { get; init; }

    /// <summary>Only while scheduled: the parameter group an upgrade to another family takes along.</summary>
    public Change<string?>? ParameterGroupName { get; init; }

    /// <summary>Online changes of who may connect and how (every node takes them without a topology step).</summary>
    public string? AuthTokenUpdateStrategy { get; init; }
    public IReadOnlyList<string>? UserGroupIds { get; init; }
    public Change<string?>? TransitEncryptionMode { get; init; }

    /// <summary>Memcached clusters: the node count changes; these nodes (chosen when it was asked for) go.</summary>
    public int? NumNodes { get; init; }
    public IReadOnlyList<string>? NodeIdsToRemove { get; init; }

    /// <summary>Nodes that run an outdated configuration (an older control plane's command line), to be replaced (Redis) or rebooted (Memcached).</summary>
    public IReadOnlyList<string>? OutdatedNodes { get; init; }

    /// <summary>Nodes still to reboot; each leaves the list once it is back (the list stays, empty, until the change is done).</summary>
    public IReadOnlyList<string>? RebootNodes { get; init; }

    /// <summary>Progress of a reshard under way, written by the reconciler.</summary>
    public SlotMigration? SlotMigration { get; init; }

    public static PendingChanges None { get; } = new();

    /// <summary>Slots move: the shard count changes or a rebalance was asked.</summary>
    public bool Reshards => NumShards is not null || Rebalance;

    /// <summary>An in-place engine upgrade: nodes running another engine version are replaced.</summary>
    public bool Upgrades => Engine is not null || EngineVersion is not null;

    /// <summary>
    /// An online change: who may connect (an auth token, the user group or its users) or how (a transit
    /// encryption step). Every node takes it without a topology step; the group is modifying until every node holds it.
    /// </summary>
    public bool HasOnlineChange => ChangesUsers || TransitEncryptionMode is not null;

    /// <summary>Who may connect changes: every node must hold the group's client users.</summary>
    public bool ChangesUsers => AuthTokenUpdateStrategy is not null || UserGroupIds is not null;

    public bool IsEmpty => NumShards is null && !Rebalance && ReplicasPerShard is null && NodeType is null && !Upgrades && ParameterGroupName is null
        && !HasOnlineChange && NumNodes is null && NodeIdsToRemove is null
        && OutdatedNodes is null && RebootNodes is null && SlotMigration is null;

    /// <summary>The changes without the node in the reboot list.</summary>
    public PendingChanges Rebooted(string nodeId) =>
        RebootNodes is null ? this : this with { RebootNodes = RebootNodes.Where(n => n != nodeId).ToList() };

    /// <summary>Progress of the slot migration: the total is given when the plan is stored, else the one stored is kept.</summary>
    public PendingChanges WithSlotMigration(int? total, int remaining)
    {
        var planned = total ?? SlotMigration?.TotalSlots ?? remaining;
        return this with { SlotMigration = new SlotMigration(planned, planned == 0 ? 100.0 : Math.Round(100.0 * (planned - remaining) / planned, 1)) };
    }
}
