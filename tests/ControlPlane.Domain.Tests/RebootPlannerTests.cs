using ControlPlane.Domain;
using ControlPlane.Domain.Planning;

namespace ControlPlane.Domain.Tests;

/// <summary>Reboots as pure decisions: one shard at a time, replicas first, a primary handing over to a synced new node.</summary>
public sealed class RebootPlannerTests
{
    private const string Small = "cache.small";
    private static readonly PlanContext Zones = new(["az-a", "az-b", "az-c"], new HashSet<string>());

    private static DesiredNode Node(string shard, int ordinal, NodeRole role, string zone) =>
        new($"g-{shard}-{ordinal:000}", shard, role, zone, NodeStatus.Available, 7000 + 10 * int.Parse(shard) + ordinal, Small);

    private static Dictionary<string, ObservedNode> Healthy(DesiredGroup group) =>
        group.Shards.SelectMany(s => s.Nodes.Select(n =>
        {
            var primary = s.Nodes.First(x => x.Role == NodeRole.Primary);
            return new ObservedNode(n.Id, ContainerState.Running, Reachable: true, IsPrimary: n.Role == NodeRole.Primary,
                LinkUp: n.Role == NodeRole.Replica, Offset: 1000, ClusterId: "cid-" + n.Id,
                KnownNodeIds: group.Nodes.Select(x => x.Id).ToHashSet(), ClusterPrimaryNodeId: n.Role == NodeRole.Replica ? primary.Id : null,
                OwnedSlots: n.Role == NodeRole.Primary ? s.Slots : null, ClusterStateOk: true,
                ViewClusterIds: group.Nodes.Where(x => x != n).Select(x => "cid-" + x.Id).ToHashSet());
        })).ToDictionary(o => o.NodeId);

    private static DesiredGroup Group(IReadOnlySet<string> reboot, params DesiredShard[] shards) =>
        new("g", ClusterMode.Enabled, GroupStatus.Modifying, shards, Target: new GroupTarget(shards.Length, 1, Small, Reboot: reboot));

    private static readonly string[] Slots = ["0-5460", "5461-10922", "10923-16383"];

    private static DesiredShard Shard(int i, params DesiredNode[] nodes) => new($"{i:0000}", Slots[i - 1], ShardStatus.Available, nodes);

    [Fact]
    public void Every_node_rebooted_starts_with_the_first_shards_replica_in_place()
    {
        var shards = Enumerable.Range(1, 3).Select(i => Shard(i, Node($"{i:0000}", 1, NodeRole.Primary, "az-a"), Node($"{i:0000}", 2, NodeRole.Replica, "az-b"))).ToArray();
        var group = Group(shards.SelectMany(s => s.Nodes).Select(n => n.Id).ToHashSet(), shards);
        Assert.Equal([new RestartNode("g-0001-002")], RedisPlanner.Plan(group, Healthy(group), Zones, Clock.Now));
    }

    [Fact]
    public void A_named_primary_hands_over_to_its_synced_replica_then_restarts_as_a_replica()
    {
        var p = Node("0001", 1, NodeRole.Primary, "az-a");
        var r = Node("0001", 2, NodeRole.Replica, "az-b");
        // The replica was rebooted already (it left the list): the primary hands over to it.
        var group = Group(new HashSet<string> { p.Id }, Shard(1, p, r));
        Assert.Equal([new Switchover("0001", p.Id, r.Id)], RedisPlanner.Plan(group, Healthy(group), Zones, Clock.Now));

        var swapped = Group(new HashSet<string> { p.Id }, Shard(1, r with { Role = NodeRole.Primary }, p with { Role = NodeRole.Replica }));
        Assert.Equal([new RestartNode(p.Id)], RedisPlanner.Plan(swapped, Healthy(swapped), Zones, Clock.Now));
    }

    [Fact]
    public void A_primary_waits_for_its_replica_to_resync_before_handing_over()
    {
        var p = Node("0001", 1, NodeRole.Primary, "az-a");
        var r = Node("0001", 2, NodeRole.Replica, "az-b");
        var group = Group(new HashSet<string> { p.Id }, Shard(1, p, r));
        var observed = Healthy(group);
        observed[r.Id] = observed[r.Id] with { LinkUp = false };
        Assert.All(RedisPlanner.Plan(group, observed, Zones, Clock.Now), a => Assert.IsType<Wait>(a));
    }

    [Fact]
    public void A_primary_without_replica_restarts_keeping_its_data()
    {
        var p = Node("0001", 1, NodeRole.Primary, "az-a");
        var group = new DesiredGroup("g", ClusterMode.Enabled, GroupStatus.Modifying, [Shard(1, p)], Target: new GroupTarget(1, 0, Small, Reboot: new HashSet<string> { p.Id }));
        Assert.Equal([new RestartNode(p.Id, KeepData: true)], RedisPlanner.Plan(group, Healthy(group), Zones, Clock.Now));
    }

    [Fact]
    public void A_shard_not_named_is_left_alone_and_the_next_named_one_follows()
    {
        var shards = Enumerable.Range(1, 2).Select(i => Shard(i, Node($"{i:0000}", 1, NodeRole.Primary, "az-a"), Node($"{i:0000}", 2, NodeRole.Replica, "az-b"))).ToArray();
        var group = Group(new HashSet<string> { "g-0002-002" }, shards);
        Assert.Equal([new RestartNode("g-0002-002")], RedisPlanner.Plan(group, Healthy(group), Zones, Clock.Now));
        var done = Group(new HashSet<string>(), shards);
        Assert.Equal([new MarkGroup(GroupStatus.Available, "Replication group g is available")], RedisPlanner.Plan(done, Healthy(done), Zones, Clock.Now));
    }

    [Fact]
    public void A_memcached_reboot_restarts_each_node_named_in_place_one_at_a_time()
    {
        var nodes = new[]
        {
            new DesiredNode("mc-0001", null, NodeRole.Primary, "az-a", NodeStatus.Available, 7001),
            new DesiredNode("mc-0002", null, NodeRole.Primary, "az-b", NodeStatus.Available, 7002),
            new DesiredNode("mc-0003", null, NodeRole.Primary, "az-c", NodeStatus.Available, 7003),
        };
        var observed = nodes.ToDictionary(n => n.Id, n => new ObservedNode(n.Id, ContainerState.Running, Reachable: true));
        var cluster = new DesiredCluster("mc", CacheClusterStatus.Modifying, nodes, new HashSet<string> { "mc-0003", "mc-0001" });
        // One at a time, so the others keep serving.
        Assert.Equal([new RestartNode("mc-0001")], MemcachedPlanner.Plan(cluster, observed, Zones, Clock.Now));
        Assert.Equal([new RestartNode("mc-0003")], MemcachedPlanner.Plan(cluster with { Reboot = new HashSet<string> { "mc-0003" } }, observed, Zones, Clock.Now));
        Assert.Equal([new MarkGroup(GroupStatus.Available, "Cache cluster mc is available")],
            MemcachedPlanner.Plan(cluster with { Reboot = new HashSet<string>() }, observed, Zones, Clock.Now));
    }
}
