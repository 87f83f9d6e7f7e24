namespace ControlPlane.Domain;

public sealed record PlannedNode(string Id, NodeRole Role, string AvailabilityZone);

public sealed record PlannedShard(string Id, string Slots, IReadOnlyList<PlannedNode> Nodes);

/// <summary>Lays out shards, slots, node ids and availability zones for a new group or cluster.</summary>
public static class Topology
{
    /// <summary>
    /// Primary of shard i in zone i, replicas in the zones after it, so primaries and replicas are
    /// spread across zones; explicit primaryAz/replicaAzs win.
    /// </summary>
    public static IReadOnlyList<PlannedShard> ForReplicationGroup(ReplicationGroupSpec spec, IReadOnlyList<string> zones)
    {
        var slots = spec.ClusterMode == ClusterMode.Disabled
            ? ["0-16383"]
            : spec.Shards?.Select(s => SlotRanges.Format(Parse(s.Slots))).ToList() ?? SlotRanges.EvenSplit(spec.NumShards);
        var shards = new List<PlannedShard>(spec.NumShards);
        for (var i = 0; i < spec.NumShards; i++)
        {
            var shardId = Identifiers.ShardId(i);
            var layout = spec.Shards?[i];
            var nodes = new List<PlannedNode>(spec.ReplicasPerShard + 1)
            {
                new(Identifiers.RedisNodeId(spec.Id, shardId, 1), NodeRole.Primary, layout?.PrimaryAz ?? zones[i % zones.Count]),
            };
            for (var r = 0; r < spec.ReplicasPerShard; r++)
                nodes.Add(new(Identifiers.RedisNodeId(spec.Id, shardId, r + 2), NodeRole.Replica,
                    layout?.ReplicaAzs?[r] ?? zones[(i + r + 1) % zones.Count]));
            shards.Add(new(shardId, slots[i], nodes));
        }
        return shards;
    }

    /// <summary>Memcached: preferred zones when given, all in the first zone for single-az, round robin for cross-az.</summary>
    public static IReadOnlyList<PlannedNode> ForCacheCluster(CacheClusterSpec spec, IReadOnlyList<string> zones, int firstOrdinal = 1) =>
        Enumerable.Range(0, spec.NumNodes)
            .Select(i => new PlannedNode(
                Identifiers.MemcachedNodeId(spec.Id, firstOrdinal + i),
                NodeRole.Primary,
                spec.PreferredAvailabilityZones?[i] ?? (spec.AzMode == AzMode.CrossAz ? zones[i % zones.Count] : zones[0])))
            .ToList();

    private static IEnumerable<int> Parse(string slots) =>
        SlotRanges.TryParse(slots, out var ranges) ? SlotRanges.Expand(ranges) : throw new ArgumentException($"Invalid slots {slots}");
}
