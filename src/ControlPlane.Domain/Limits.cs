namespace ControlPlane.Domain;

/// <summary>
/// The limits table. The quotas are configurable (as ElastiCache's are by a support request);
/// the rest are fixed by the engines and the contract.
/// </summary>
public sealed record Limits(int NodeQuota = Limits.DefaultNodeQuota, int ShardQuota = Limits.DefaultShardQuota)
{
    public const int DefaultNodeQuota = 90;
    public const int DefaultShardQuota = 90;
    public const int MaxNodeQuota = 500;
    public const int MaxShards = 500;
    public const int MaxReplicasPerShard = 5;
    public const int MaxDescriptionLength = 255;
    public const int MaxSnapshotRetentionDays = 35;
    public const int MinSnapshotWindowMinutes = 60;
    public const int MinAuthTokenLength = 16;
    public const int MaxAuthTokenLength = 128;
    public const int MaxMemcachedNodes = 60;
    public const int MaxGroupIdLength = 40;
    public const int MaxCacheClusterIdLength = 50;
    public const int MaxSnapshotNameLength = 40;
    public const int TestFailoverShardsPerDay = 15;
    /// <summary>ElastiCache's 20 manual snapshots per node per 24 hours, counted per replication group here.</summary>
    public const int ManualSnapshotsPerDay = 20;
}
