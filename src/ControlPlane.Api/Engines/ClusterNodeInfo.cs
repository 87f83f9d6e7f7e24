namespace ControlPlane.Api.Engines;

/// <summary>One line of CLUSTER NODES, as the node that answered sees its peer.</summary>
public sealed record ClusterNodeInfo(
    string Id,
    string Host,
    int Port,
    int BusPort,
    IReadOnlySet<string> Flags,
    string? MasterId,
    long ConfigEpoch,
    string LinkState,
    IReadOnlyList<(int Start, int End)> Slots,
    IReadOnlyList<SlotMigration> Migrations)
{
    public bool IsMyself => Flags.Contains("myself");
    public bool IsMaster => Flags.Contains("master");
    public bool IsReplica => Flags.Contains("slave");

    /// <summary>The cluster agreed the node is down ("fail"), not only this node's suspicion ("fail?").</summary>
    public bool IsFailed => Flags.Contains("fail");

    /// <summary>The answering node alone suspects it (PFAIL, "fail?").</summary>
    public bool IsSuspected => Flags.Contains("fail?");

    /// <summary>Still in the MEET handshake: its real id is not known yet.</summary>
    public bool InHandshake => Flags.Contains("handshake");

    public bool IsConnected => LinkState == "connected";

    public int SlotCount => Slots.Sum(r => r.End - r.Start + 1);
}
