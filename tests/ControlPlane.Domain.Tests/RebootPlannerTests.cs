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
    public void Every_node_rebooted_starts_with_the_first_shard_only()
    {
        var shards = Enumerable.Range(1, 3).Select(i => Shard(i, Node($"{i:0000}", 1, NodeRole.Primary, "az-a"), Node($"{i:0000}", 2, NodeRole.Replica, "az-b"))).ToArray();
        var group = Group(shards.SelectMany(s => s.Nodes).Select(n => n.Id).ToHashSet(), shards);
        // The shard first gets a new node beside its replica (in the zone of the first old node, the replica).
        Assert.Equal([new AddNode("0001", NodeRole.Replica, "az-b", Small)], GroupPlanner.Plan(group, Healthy(group), Zones));
    }

    [Fact]
    public void The_old_replica_goes_before_the_primary_hands_over()
    {
        var p = Node("0001", 1, NodeRole.Primary, "az-a");
        var r = Node("0001", 2, NodeRole.Replica, "az-b");
        var fresh = Node("0001", 3, NodeRole.Replica, "az-b");
        var group = Group(new HashSet<string> { p.Id, r.Id }, Shard(1, p, r, fresh));
        Assert.Equal([new MarkNode(r.Id, NodeStatus.Deleting, NodeRole.Replica)], GroupPlanner.Plan(group, Healthy(group), Zones));

        var replaced = Group(new HashSet<string> { p.Id, r.Id }, Shard(1, p, fresh));
        // Only the primary is left of the old nodes: a new replica first, then the switchover to it.
        Assert.Equal([new AddNode("0001", NodeRole.Replica, "az-a", Small)], GroupPlanner.Plan(replaced, Healthy(replaced), Zones));
        var second = Node("0001", 4, NodeRole.Replica, "az-a");
        var ready = Group(new HashSet<string> { p.Id, r.Id }, Shard(1, p, fresh, second));
        Assert.Equal([new Switchover("0001", p.Id, fresh.Id)], GroupPlanner.Plan(ready, Healthy(ready), Zones));
    }

    [Fact]
    public void A_shard_not_named_is_left_alone_and_the_next_named_one_follows()
    {
        var shards = Enumerable.Range(1, 2).Select(i => Shard(i, Node($"{i:0000}", 1, NodeRole.Primary, "az-a"), Node($"{i:0000}", 2, NodeRole.Replica, "az-b"))).ToArray();
        var group = Group(new HashSet<string> { "g-0002-002" }, shards);
        Assert.Equal([new AddNode("0002", NodeRole.Replica, "az-b", Small)], GroupPlanner.Plan(group, Healthy(group), Zones));
    }

    [Fact]
    public void A_memcached_reboot_replaces_each_node_named_in_its_zone_with_new_ids()
    {
        var nodes = new[]
        {
            new DesiredNode("mc-0001", null, NodeRole.Primary, "az-a", NodeStatus.Available, 7001),
            new DesiredNode("mc-0002", null, NodeRole.Primary, "az-b", NodeStatus.Available, 7002),
            new DesiredNode("mc-0003", null, NodeRole.Primary, "az-c", NodeStatus.Available, 7003),
        };
        var change = GroupPlanner.Reboot("mc", nodes, ["mc-0003", "mc-0001"], lastOrdinal: 5);
        Assert.Equal([new PlannedNode("mc-0006", NodeRole.Primary, "az-a"), new PlannedNode("mc-0007", NodeRole.Primary, "az-c")], change.Add);
        Assert.Equal(["mc-0001", "mc-0003"], change.Remove);
        Assert.Equal(7, change.LastOrdinal);
    }
}
