namespace ControlPlane.Api.Engines;

/// <summary>What one probe of a Redis node saw. Cluster fields are null when cluster mode is off.</summary>
public sealed record RedisNodeState(
    RedisRole Role,
    string? MasterHost,
    int? MasterPort,
    bool MasterLinkUp,
    long ReplicationOffset,
    int ConnectedReplicas,
    bool Loading,
    bool SyncInProgress,
    long KeyCount,
    string Version,
    long UsedMemoryBytes,
    long MaxMemoryBytes,
    bool ClusterEnabled,
    string? ClusterState,
    string? MyId,
    int? ClusterKnownNodes,
    int? SlotsAssigned,
    int? SlotsOk)
{
    /// <summary>A primary's replicas as it lists them ("slave0:ip=...,port=...,state=online,offset=..."); empty for a replica.</summary>
    public IReadOnlyList<ReplicaLink> Replicas { get; init; } = [];

    /// <summary>CLUSTER INFO's cluster_current_epoch and cluster_my_epoch: a failover or a slot taken over raises them.</summary>
    public long? CurrentEpoch { get; init; }

    public long? MyEpoch { get; init; }
}
