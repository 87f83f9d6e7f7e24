using ControlPlane.Domain;
using ControlPlane.Domain.Planning;

namespace ControlPlane.Domain.Tests;

/// <summary>Online modifications as pure decisions: replicas up and down, node type rolls, shards added, slots planned and moved, shards removed.</summary>
public sealed class ModifyPlannerTests
{
    private const string Small = "cache.small";
    private const string Medium = "cache.medium";
    private static readonly PlanContext Zones = new(["az-a", "az-b", "az-c"], new HashSet<string>());

    private static DesiredNode Node(string id, NodeRole role, string zone, string type = Small, NodeStatus status = NodeStatus.Available) =>
        new(id, id.Split('-')[1], role, zone, status, 7000 + int.Parse(id[^3..]) + 10 * int.Parse(id.Split('-')[1]), type);

    private static DesiredShard Shard(string id, string slots, params DesiredNode[] nodes) => new(id, slots, ShardStatus.Available, nodes);

    private static DesiredGroup Group(ClusterMode mode, GroupTarget target, IReadOnlyList<SlotMove>? moves = null, params DesiredShard[] shards) =>
        new("g", mode, GroupStatus.Modifying, shards, Target: target, Moves: moves);

    private static ObservedNode Primary(string id, long offset = 1000) => new(id, ContainerState.Running, Reachable: true, IsPrimary: true, Offset: offset);

    private static ObservedNode Replica(string id, string of, long offset = 1000) =>
        new(id, ContainerState.Running, Reachable: true, PrimaryNodeId: of, LinkUp: true, Offset: offset);

    /// <summary>A healthy cluster node: it knows everyone, follows its primary, and owns the slots its shard is stored with.</summary>
    private static Dictionary<string, ObservedNode> Cluster(DesiredGroup group) =>
        group.Shards.SelectMany(s => s.Nodes.Select(n =>
        {
            var primary = s.Nodes.First(x => x.Role == NodeRole.Primary);
            return new ObservedNode(n.Id, ContainerState.Running, Reachable: true, IsPrimary: n.Role == NodeRole.Primary,
                LinkUp: n.Role == NodeRole.Replica, Offset: 1000, ClusterId: "cid-" + n.Id,
                KnownNodeIds: group.Nodes.Select(x => x.Id).ToHashSet(), ClusterPrimaryNodeId: n.Role == NodeRole.Replica ? primary.Id : null,
                OwnedSlots: n.Role == NodeRole.Primary ? s.Slots : null, ClusterStateOk: true,
                ViewClusterIds: group.Nodes.Where(x => x != n).Select(x => "cid-" + x.Id).ToHashSet());
        })).ToDictionary(o => o.NodeId);

    private static IReadOnlyList<NodeAction> Plan(DesiredGroup group, params ObservedNode[] observed) =>
        RedisPlanner.Plan(group, observed.ToDictionary(o => o.NodeId), Zones, Clock.Now);

    private static readonly DesiredNode P1 = Node("g-0001-001", NodeRole.Primary, "az-a");
    private static readonly DesiredNode R2 = Node("g-0001-002", NodeRole.Replica, "az-b");
    private static readonly DesiredNode R3 = Node("g-0001-003", NodeRole.Replica, "az-c");

    [Fact]
    public void Missing_replicas_are_added_in_the_least_used_zones()
    {
        var plan = Plan(Group(ClusterMode.Disabled, new(1, 3, Small), null, Shard("0001", "0-16383", P1, R2)),
            Primary(P1.Id), Replica(R2.Id, P1.Id));
        Assert.Equal([new AddNode("0001", NodeRole.Replica, "az-c", Small), new AddNode("0001", NodeRole.Replica, "az-a", Small)], plan);
    }

    [Fact]
    public void Surplus_replicas_go_most_lagging_first_and_never_the_primary()
    {
        var plan = Plan(Group(ClusterMode.Disabled, new(1, 1, Small), null, Shard("0001", "0-16383", P1, R2, R3)),
            Primary(P1.Id), Replica(R2.Id, P1.Id, 900), Replica(R3.Id, P1.Id, 1000));
        Assert.Equal([new MarkNode(R2.Id, NodeStatus.Deleting, NodeRole.Replica)], plan);

        var none = Plan(Group(ClusterMode.Disabled, new(1, 0, Small), null, Shard("0001", "0-16383", P1, R2, R3)),
            Primary(P1.Id, 500), Replica(R2.Id, P1.Id, 900), Replica(R3.Id, P1.Id, 1000));
        Assert.Equal([new MarkNode(R2.Id, NodeStatus.Deleting, NodeRole.Replica), new MarkNode(R3.Id, NodeStatus.Deleting, NodeRole.Replica)], none);
    }

    [Fact]
    public void A_node_marked_deleting_is_removed_before_anything_else_and_is_not_wired()
    {
        var leaving = R3 with { Status = NodeStatus.Deleting };
        var plan = Plan(Group(ClusterMode.Disabled, new(1, 1, Small), null, Shard("0001", "0-16383", P1, R2, leaving)),
            Primary(P1.Id), Replica(R2.Id, P1.Id), Primary(leaving.Id));
        Assert.Equal([new RemoveNode(leaving.Id)], plan);
    }

    [Fact]
    public void Modification_done_makes_the_group_available()
    {
        var plan = Plan(Group(ClusterMode.Disabled, new(1, 1, Small), null, Shard("0001", "0-16383", P1, R2)), Primary(P1.Id), Replica(R2.Id, P1.Id));
        Assert.Equal([new MarkGroup(GroupStatus.Available, "Replication group g is available")], plan);
    }

    [Fact]
    public void A_node_type_change_rolls_one_node_at_a_time_with_the_primary_last()
    {
        var target = new GroupTarget(1, 1, Medium);
        // First a new node beside the old replica, in its zone.
        Assert.Equal([new AddNode("0001", NodeRole.Replica, "az-b", Medium)],
            Plan(Group(ClusterMode.Disabled, target, null, Shard("0001", "0-16383", P1, R2)), Primary(P1.Id), Replica(R2.Id, P1.Id)));

        // Synced: the old replica goes.
        var r3 = Node("g-0001-003", NodeRole.Replica, "az-b", Medium);
        Assert.Equal([new MarkNode(R2.Id, NodeStatus.Deleting, NodeRole.Replica)],
            Plan(Group(ClusterMode.Disabled, target, null, Shard("0001", "0-16383", P1, R2, r3)), Primary(P1.Id), Replica(R2.Id, P1.Id), Replica(r3.Id, P1.Id)));

        // Only the primary is left of the old type: a new node beside it, then a switchover to the most advanced new replica.
        Assert.Equal([new AddNode("0001", NodeRole.Replica, "az-a", Medium)],
            Plan(Group(ClusterMode.Disabled, target, null, Shard("0001", "0-16383", P1, r3)), Primary(P1.Id), Replica(r3.Id, P1.Id)));
        var r4 = Node("g-0001-004", NodeRole.Replica, "az-a", Medium);
        Assert.Equal([new Switchover("0001", P1.Id, r4.Id)],
            Plan(Group(ClusterMode.Disabled, target, null, Shard("0001", "0-16383", P1, r3, r4)), Primary(P1.Id), Replica(r3.Id, P1.Id, 900), Replica(r4.Id, P1.Id, 1000)));

        // After the switchover the old primary is a replica of the old type, and goes.
        var demoted = P1 with { Role = NodeRole.Replica };
        var promoted = r4 with { Role = NodeRole.Primary };
        Assert.Equal([new MarkNode(P1.Id, NodeStatus.Deleting, NodeRole.Replica)],
            Plan(Group(ClusterMode.Disabled, target, null, Shard("0001", "0-16383", demoted, r3, promoted)), Replica(P1.Id, r4.Id), Replica(r3.Id, r4.Id), Primary(r4.Id)));
    }

    [Fact]
    public void Nodes_running_an_outdated_configuration_are_rolled_like_another_type()
    {
        var target = new GroupTarget(1, 1, Small, Refresh: true);
        static ObservedNode Outdated(ObservedNode o) => o with { Container = ContainerState.Outdated };
        Assert.Equal([new AddNode("0001", NodeRole.Replica, "az-b", Small)],
            Plan(Group(ClusterMode.Disabled, target, null, Shard("0001", "0-16383", P1, R2)), Outdated(Primary(P1.Id)), Outdated(Replica(R2.Id, P1.Id))));
        var r3 = Node("g-0001-003", NodeRole.Replica, "az-b");
        Assert.Equal([new MarkNode(R2.Id, NodeStatus.Deleting, NodeRole.Replica)],
            Plan(Group(ClusterMode.Disabled, target, null, Shard("0001", "0-16383", P1, R2, r3)), Outdated(Primary(P1.Id)), Outdated(Replica(R2.Id, P1.Id)), Replica(r3.Id, P1.Id)));
        var r4 = Node("g-0001-004", NodeRole.Replica, "az-a");
        Assert.Equal([new Switchover("0001", P1.Id, r4.Id)],
            Plan(Group(ClusterMode.Disabled, target, null, Shard("0001", "0-16383", P1, r3, r4)), Outdated(Primary(P1.Id)), Replica(r3.Id, P1.Id, 900), Replica(r4.Id, P1.Id, 1000)));
        // Without the refresh asked for, an outdated container is left alone.
        Assert.Equal([new MarkGroup(GroupStatus.Available, "Replication group g is available")],
            Plan(Group(ClusterMode.Disabled, target with { Refresh = false }, null, Shard("0001", "0-16383", P1, R2)), Outdated(Primary(P1.Id)), Outdated(Replica(R2.Id, P1.Id))));
    }

    [Fact]
    public void A_switchover_that_happened_unrecorded_is_adopted_not_undone()
    {
        var group = new DesiredGroup("g", ClusterMode.Disabled, GroupStatus.Modifying, [Shard("0001", "0-16383", P1, R2)], Target: new(1, 1, Small));
        var plan = Plan(group, Replica(P1.Id, R2.Id), Primary(R2.Id));
        Assert.Equal([new MarkNode(R2.Id, NodeStatus.Available, NodeRole.Primary), new MarkNode(P1.Id, NodeStatus.Available, NodeRole.Replica)], plan);
    }

    [Fact]
    public void Scale_out_adds_shards_then_plans_an_even_spread_then_moves_slots_per_pair()
    {
        var two = new[]
        {
            Shard("0001", "0-8191", Node("g-0001-001", NodeRole.Primary, "az-a"), Node("g-0001-002", NodeRole.Replica, "az-b")),
            Shard("0002", "8192-16383", Node("g-0002-001", NodeRole.Primary, "az-b"), Node("g-0002-002", NodeRole.Replica, "az-c")),
        };
        var target = new GroupTarget(4, 1, Small, Reshard: true);
        var group = Group(ClusterMode.Enabled, target, null, two);
        var added = RedisPlanner.Plan(group, Cluster(group), Zones, Clock.Now).Cast<AddShard>().ToList();
        Assert.Equal([("0003", "az-c", "az-a"), ("0004", "az-a", "az-b")], added.Select(a => (a.ShardId, a.PrimaryZone, Assert.Single(a.ReplicaZones))));
        Assert.All(added, a => Assert.Equal(Small, a.NodeType));

        var four = two.Concat(
        [
            Shard("0003", "", Node("g-0003-001", NodeRole.Primary, "az-c"), Node("g-0003-002", NodeRole.Replica, "az-a")),
            Shard("0004", "", Node("g-0004-001", NodeRole.Primary, "az-a"), Node("g-0004-002", NodeRole.Replica, "az-b")),
        ]).ToArray();
        group = Group(ClusterMode.Enabled, target, null, four);
        var plan = Assert.Single(RedisPlanner.Plan(group, Cluster(group), Zones, Clock.Now));
        var moves = Assert.IsType<PlanSlotMoves>(plan).Moves;
        Assert.Equal(8192, moves.Count);
        Assert.All(moves.GroupBy(m => m.ToShardId), g => Assert.Equal(4096, g.Count()));
        Assert.All(moves, m => Assert.Contains(m.ToShardId, new[] { "0003", "0004" }));

        group = Group(ClusterMode.Enabled, target, moves, four);
        var steps = RedisPlanner.Plan(group, Cluster(group), Zones, Clock.Now);
        Assert.All(steps, s => Assert.IsType<MoveSlots>(s));
        Assert.Equal(8192, steps.Cast<MoveSlots>().Sum(m => m.Slots.Count));
        Assert.Equal(moves.Select(m => (m.FromShardId, m.ToShardId)).Distinct().Count(), steps.Count);
    }

    [Fact]
    public void Scale_in_moves_the_leaving_shards_slots_onto_all_the_others_then_removes_them()
    {
        var slots = SlotRanges.EvenSplit(3);
        var three = Enumerable.Range(1, 3).Select(i => Shard($"000{i}", slots[i - 1], Node($"g-000{i}-001", NodeRole.Primary, "az-a"))).ToArray();
        var target = new GroupTarget(2, 0, Small, Reshard: true);
        var group = Group(ClusterMode.Enabled, target, null, three);
        var plan = Assert.IsType<PlanSlotMoves>(Assert.Single(RedisPlanner.Plan(group, Cluster(group), Zones, Clock.Now)));
        Assert.Equal(["0003"], plan.LeavingShardIds);
        Assert.All(plan.Moves, m => Assert.Equal("0003", m.FromShardId));
        Assert.Equal(SlotRanges.Expand(Ranges(slots[2])).Count(), plan.Moves.Count);
        // Both that stay receive, so each ends with 8192.
        Assert.Equal(8192 - SlotRanges.Expand(Ranges(slots[0])).Count(), plan.Moves.Count(m => m.ToShardId == "0001"));
        Assert.Equal(8192 - SlotRanges.Expand(Ranges(slots[1])).Count(), plan.Moves.Count(m => m.ToShardId == "0002"));

        // Slots moved: the leaving shard's nodes are marked deleting, then it is removed.
        var emptied = new[] { three[0] with { Slots = "0-8191" }, three[1] with { Slots = "8192-16383" }, three[2] with { Slots = "", Status = ShardStatus.Deleting } };
        group = Group(ClusterMode.Enabled, target, null, emptied);
        Assert.Equal([new MarkNode("g-0003-001", NodeStatus.Deleting, NodeRole.Primary)], RedisPlanner.Plan(group, Cluster(group), Zones, Clock.Now));
        var gone = new[] { emptied[0], emptied[1], emptied[2] with { Nodes = [] } };
        group = Group(ClusterMode.Enabled, target, null, gone);
        Assert.Equal([new RemoveShard("0003")], RedisPlanner.Plan(group, Cluster(group), Zones, Clock.Now));
    }

    [Fact]
    public void Rebalance_of_a_balanced_group_plans_nothing()
    {
        var slots = SlotRanges.EvenSplit(3);
        var three = Enumerable.Range(1, 3).Select(i => Shard($"000{i}", slots[i - 1], Node($"g-000{i}-001", NodeRole.Primary, "az-a"))).ToArray();
        var group = Group(ClusterMode.Enabled, new(3, 0, Small, Reshard: true), null, three);
        Assert.Equal([new MarkGroup(GroupStatus.Available, "Replication group g is available")], RedisPlanner.Plan(group, Cluster(group), Zones, Clock.Now));
    }

    [Theory]
    [InlineData(1, 2)]
    [InlineData(3, 5)]
    [InlineData(5, 2)]
    [InlineData(3, 6)]
    [InlineData(6, 3)]
    [InlineData(2, 7)]
    public void Rebalance_moves_only_what_it_must_and_leaves_every_shard_its_share(int from, int to)
    {
        var current = SlotRanges.EvenSplit(from).Select((s, i) => (Id: Identifiers.ShardId(i), Slots: s)).ToList();
        var staying = Enumerable.Range(0, to).Select(i => i < from ? current[i] : (Id: Identifiers.ShardId(i), Slots: "")).ToList();
        var leaving = current.Skip(to).ToList();
        var moves = SlotPlanner.Rebalance(staying, leaving);

        var owner = current.SelectMany(s => SlotRanges.Expand(Ranges(s.Slots)).Select(slot => (slot, s.Id))).ToDictionary(x => x.slot, x => x.Id);
        foreach (var move in moves)
        {
            Assert.Equal(owner[move.Slot], move.FromShardId);
            owner[move.Slot] = move.ToShardId;
        }
        var counts = owner.GroupBy(o => o.Value).ToDictionary(g => g.Key, g => g.Count());
        Assert.Equal(to, counts.Count);
        Assert.True(counts.Values.Max() - counts.Values.Min() <= 1);
        Assert.DoesNotContain(leaving, l => counts.ContainsKey(l.Id));
        // The minimum: every slot a shard keeps within its share stays put.
        var kept = staying.Sum(s => Math.Min(SlotRanges.Expand(Ranges(s.Slots)).Count(), counts[s.Id]));
        Assert.Equal(16384 - kept, moves.Count);
    }

    private static IReadOnlyList<(int Start, int End)> Ranges(string slots) => SlotRanges.TryParse(slots, out var r) ? r : [];
}

