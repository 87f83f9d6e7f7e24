using ControlPlane.Domain;
using ControlPlane.Domain.Planning;

namespace ControlPlane.Domain.Tests;

/// <summary>Memcached node sets: which nodes a numNodes change adds and removes, and how the planner carries it out.</summary>
public sealed class MemcachedPlannerTests
{
    private static readonly string[] Zones = ["az-a", "az-b", "az-c"];

    private static DesiredNode Node(int ordinal, string zone, NodeStatus status = NodeStatus.Available, int? port = null) =>
        new(Identifiers.MemcachedNodeId("mc", ordinal), null, NodeRole.Primary, zone, status, port ?? 7000 + ordinal);

    private static ObservedNode Up(string id) => new(id, ContainerState.Running, Reachable: true, IsPrimary: true);

    private static Dictionary<string, ObservedNode> Seen(params ObservedNode[] nodes) => nodes.ToDictionary(n => n.NodeId);

    private static readonly DesiredNode[] TwoCrossAz = [Node(1, "az-a"), Node(2, "az-b")];

    [Fact]
    public void Scale_out_continues_the_ordinals_and_spreads_cross_az_nodes_over_the_emptiest_zones()
    {
        var change = MemcachedPlanner.Resize("mc", AzMode.CrossAz, TwoCrossAz, 5, null, replaceAll: false, lastOrdinal: 2, Zones);
        Assert.Equal(
            [new PlannedNode("mc-0003", NodeRole.Primary, "az-c"), new PlannedNode("mc-0004", NodeRole.Primary, "az-a"), new PlannedNode("mc-0005", NodeRole.Primary, "az-b")],
            change.Add);
        Assert.Empty(change.Remove);
        Assert.Equal(5, change.LastOrdinal);
    }

    [Fact]
    public void Scale_out_of_a_single_az_cluster_stays_in_its_zone()
    {
        var change = MemcachedPlanner.Resize("mc", AzMode.SingleAz, [Node(1, "az-b")], 3, null, replaceAll: false, lastOrdinal: 1, Zones);
        Assert.Equal(["az-b", "az-b"], change.Add.Select(n => n.AvailabilityZone));
    }

    [Fact]
    public void Ids_of_removed_nodes_are_never_handed_out_again()
    {
        // mc-0004 and mc-0005 were removed earlier; the cluster remembers it went up to 5.
        var change = MemcachedPlanner.Resize("mc", AzMode.CrossAz, [Node(1, "az-a"), Node(2, "az-b"), Node(3, "az-c")], 4, null, replaceAll: false, lastOrdinal: 5, Zones);
        Assert.Equal(["mc-0006"], change.Add.Select(n => n.Id));
        Assert.Equal(6, change.LastOrdinal);
    }

    [Fact]
    public void Scale_in_removes_the_newest_nodes_by_default()
    {
        var nodes = new[] { Node(1, "az-a"), Node(2, "az-b"), Node(3, "az-c"), Node(4, "az-a"), Node(5, "az-b") };
        var change = MemcachedPlanner.Resize("mc", AzMode.CrossAz, nodes, 3, null, replaceAll: false, lastOrdinal: 5, Zones);
        Assert.Equal(["mc-0005", "mc-0004"], change.Remove);
        Assert.Empty(change.Add);
    }

    [Fact]
    public void Scale_in_honours_the_node_ids_to_remove()
    {
        var nodes = new[] { Node(1, "az-a"), Node(2, "az-b"), Node(3, "az-c"), Node(4, "az-a"), Node(5, "az-b") };
        var change = MemcachedPlanner.Resize("mc", AzMode.CrossAz, nodes, 3, ["mc-0001", "mc-0004"], replaceAll: false, lastOrdinal: 5, Zones);
        Assert.Equal(["mc-0001", "mc-0004"], change.Remove);
        Assert.Empty(change.Add);
    }

    [Fact]
    public void A_new_node_type_replaces_every_node_that_stays_in_its_zone()
    {
        var change = MemcachedPlanner.Resize("mc", AzMode.CrossAz, [Node(1, "az-a"), Node(2, "az-b"), Node(3, "az-c")], 2, ["mc-0002"], replaceAll: true, lastOrdinal: 3, Zones);
        Assert.Equal([new PlannedNode("mc-0004", NodeRole.Primary, "az-a"), new PlannedNode("mc-0005", NodeRole.Primary, "az-c")], change.Add);
        Assert.Equal(["mc-0002", "mc-0001", "mc-0003"], change.Remove);
    }

    private static DesiredCluster Modifying(params DesiredNode[] nodes) => new("mc", CacheClusterStatus.Modifying, nodes);

    public static TheoryData<string, DesiredCluster, ObservedNode[], NodeAction[]> Rows => new()
    {
        { "an added node gets a port first", Modifying(Node(1, "az-a"), Node(2, "az-b", NodeStatus.Creating) with { Port = null }), [Up("mc-0001")],
            [new AllocatePort("mc-0002")] },
        { "then its container", Modifying(Node(1, "az-a"), Node(2, "az-b", NodeStatus.Creating)), [Up("mc-0001")], [new StartContainer("mc-0002")] },
        { "then it is waited for", Modifying(Node(1, "az-a"), Node(2, "az-b", NodeStatus.Creating)), [Up("mc-0001"), new ObservedNode("mc-0002", ContainerState.Running)],
            [new Wait("node mc-0002 is starting")] },
        { "an added node that answers is available", Modifying(Node(1, "az-a"), Node(2, "az-b", NodeStatus.Creating)), [Up("mc-0001"), Up("mc-0002")],
            [new MarkNode("mc-0002", NodeStatus.Available, NodeRole.Primary)] },
        { "a replacement starts like an added node", Modifying(Node(1, "az-a"), Node(3, "az-b", NodeStatus.Replacing)), [Up("mc-0001")], [new StartContainer("mc-0003")] },
        { "a node marked deleting is removed", Modifying(Node(1, "az-a"), Node(2, "az-b", NodeStatus.Deleting)), [Up("mc-0001"), Up("mc-0002")],
            [new RemoveNode("mc-0002")] },
        { "a dead node marked deleting is removed, not reported", Modifying(Node(1, "az-a"), Node(2, "az-b", NodeStatus.Deleting)), [Up("mc-0001")],
            [new RemoveNode("mc-0002")] },
        { "make before break: the old node goes once its successor serves", Modifying(Node(1, "az-a", NodeStatus.Deleting), Node(2, "az-a", NodeStatus.Creating)),
            [Up("mc-0001")], [new StartContainer("mc-0002")] },
        { "a node in an unreachable zone waits for it", Modifying(Node(1, "az-a"), Node(2, "az-b", NodeStatus.Deleting)),
            [Up("mc-0001"), new ObservedNode("mc-0002", ContainerState.ZoneUnreachable)], [new Wait("the zone of node mc-0002 is unreachable")] },
        { "the node set matches: the cluster is available", Modifying(Node(1, "az-a"), Node(2, "az-b")), [Up("mc-0001"), Up("mc-0002")],
            [new MarkGroup(GroupStatus.Available, "Cache cluster mc is available")] },
        { "an available cluster needs nothing", new DesiredCluster("mc", CacheClusterStatus.Available, TwoCrossAz), [Up("mc-0001"), Up("mc-0002")], [] },
    };

    [Theory]
    [MemberData(nameof(Rows))]
    public void Scaling_is_carried_out_step_by_step(string name, DesiredCluster cluster, ObservedNode[] observed, NodeAction[] expected)
    {
        var plan = MemcachedPlanner.Plan(cluster, Seen(observed), null, Clock.Now);
        Assert.True(expected.SequenceEqual(plan), $"{name}: got {string.Join(", ", plan)}");
    }

    [Fact]
    public void Memcached_cluster_becomes_available_when_every_node_answers()
    {
        var cluster = new DesiredCluster("m", CacheClusterStatus.Creating,
            [new DesiredNode("m-0001", null, NodeRole.Primary, "az-a", NodeStatus.Creating, 7001), new DesiredNode("m-0002", null, NodeRole.Primary, "az-a", NodeStatus.Creating, 7002)]);
        Assert.Equal([new StartContainer("m-0002")], MemcachedPlanner.Plan(cluster, Seen(Up("m-0001")), null, Clock.Now));
        Assert.Equal([new Wait("node m-0002 is starting")], MemcachedPlanner.Plan(cluster, Seen(Up("m-0001"), new ObservedNode("m-0002", ContainerState.Running)), null, Clock.Now));
        Assert.Equal(
            [new MarkNode("m-0001", NodeStatus.Available, NodeRole.Primary), new MarkNode("m-0002", NodeStatus.Available, NodeRole.Primary), new MarkGroup(GroupStatus.Available, "Cache cluster m created")],
            MemcachedPlanner.Plan(cluster, Seen(Up("m-0001"), Up("m-0002")), null, Clock.Now));
    }
}
