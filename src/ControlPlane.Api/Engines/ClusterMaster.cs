namespace ControlPlane.Api.Engines;

/// <summary>A Redis Cluster master as the mover needs it: where it answers and its cluster node id (CLUSTER MYID).</summary>
public sealed record ClusterMaster(string Host, int Port, string ClusterId)
{
    public override string ToString() => $"{Host}:{Port} ({ClusterId})";
}
