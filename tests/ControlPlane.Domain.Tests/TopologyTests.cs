using ControlPlane.Domain;

namespace ControlPlane.Domain.Tests;

public sealed class TopologyTests
{
    private static readonly ReplicationGroupSpec Spec = new(
        "orders", "", "7.0", "cache.small", ClusterMode.Enabled, 3, 2, true, true, false, null, 0, null, null, null, null);

    [Fact]
    public void Node_ids_follow_the_contract()
    {
        var shards = Topology.ForReplicationGroup(Spec, ["az-a"]);
        Assert.Equal(["0001", "0002", "0003"], shards.Select(s => s.Id));
        Assert.Equal(["orders-0002-001", "orders-0002-002", "orders-0002-003"], shards[1].Nodes.Select(n => n.Id));
        Assert.Equal(NodeRole.Primary, shards[1].Nodes[0].Role);
    }

    [Fact]
    public void Primaries_and_replicas_spread_across_zones()
    {
        var shards = Topology.ForReplicationGroup(Spec, ["az-a", "az-b", "az-c"]);
        Assert.All(shards, s => Assert.Equal(3, s.Nodes.Select(n => n.AvailabilityZone).Distinct().Count()));
        Assert.Equal(3, shards.Select(s => s.Nodes[0].AvailabilityZone).Distinct().Count());
    }

    [Fact]
    public void Explicit_zones_and_slots_win()
    {
        var spec = Spec with { NumShards = 1, ReplicasPerShard = 1, Shards = [new ShardSpec("0-16383", "az-c", ["az-b"])] };
        var shard = Assert.Single(Topology.ForReplicationGroup(spec, ["az-a", "az-b", "az-c"]));
        Assert.Equal(["az-c", "az-b"], shard.Nodes.Select(n => n.AvailabilityZone));
        Assert.Equal("0-16383", shard.Slots);
    }

    [Fact]
    public void Memcached_cross_az_round_robins_and_single_az_stays()
    {
        var spec = new CacheClusterSpec("sessions", "memcached", "1.6", "cache.small", 3, AzMode.CrossAz, null, null);
        Assert.Equal(["az-a", "az-b", "az-a"], Topology.ForCacheCluster(spec, ["az-a", "az-b"]).Select(n => n.AvailabilityZone));
        Assert.All(Topology.ForCacheCluster(spec with { AzMode = AzMode.SingleAz }, ["az-a", "az-b"]), n => Assert.Equal("az-a", n.AvailabilityZone));
        Assert.Equal("sessions-0003", Topology.ForCacheCluster(spec, ["az-a"])[2].Id);
    }
}
