using ControlPlane.Domain;
using ControlPlane.Domain.Parameters;
using ControlPlane.Domain.Planning;

namespace ControlPlane.Domain.Tests;

/// <summary>
/// A settled group's nodes are brought to its parameter group's values by the planner: the immediate
/// ones set where they are not yet, the start-up ones told pending-reboot, each node's status told as it
/// stands; nothing at all when every node is in sync, nothing while a modification runs, and only once
/// healing is done.
/// </summary>
public sealed class ParametersPlannerTests
{
    private const string Applying = ParameterStatus.Applying;
    private const string PendingReboot = ParameterStatus.PendingReboot;
    private static readonly PlanContext Zones = new(["az-a", "az-b", "az-c"], new HashSet<string>());

    private static readonly DesiredNode P1 = new("g-0001-001", "0001", NodeRole.Primary, "az-a", NodeStatus.Available, 7001);
    private static readonly DesiredNode R2 = new("g-0001-002", "0001", NodeRole.Replica, "az-b", NodeStatus.Available, 7002);

    /// <summary>In sync: its immediate values set on its container, which started with the group's start-up values.</summary>
    private static readonly NodeParameters InSync = new(Set: true, StartedWithWanted: true);

    private static DesiredGroup Group(GroupStatus status, NodeParameters? primary, NodeParameters? replica) =>
        new("g", ClusterMode.Disabled, status,
            [new DesiredShard("0001", "0-16383", ShardStatus.Available, [P1 with { Parameters = primary }, R2 with { Parameters = replica }])]);

    private static ObservedNode Primary(string id) => new(id, ContainerState.Running, Reachable: true, IsPrimary: true, Offset: 1000);

    private static ObservedNode Replica(string id) => new(id, ContainerState.Running, Reachable: true, PrimaryNodeId: P1.Id, LinkUp: true, Offset: 1000);

    private static IReadOnlyList<NodeAction> Plan(DesiredGroup group) =>
        RedisPlanner.Plan(group, new[] { Primary(P1.Id), Replica(R2.Id) }.ToDictionary(o => o.NodeId), Zones, Clock.Now);

    public static TheoryData<string, NodeParameters?, NodeAction[]> Rows => new()
    {
        { "in sync: nothing, so the group stays quiet", InSync, [] },
        { "a node whose container does not run (no parameters known): nothing", null, [] },
        { "immediate values not set on its container: set", InSync with { Set = false }, [new SetParameters(R2.Id)] },
        { "set, the applying the API stored is cleared", InSync with { Status = Applying }, [new MarkParameterStatus(R2.Id, null)] },
        { "set, a pending reboot the reboot resolved is cleared", InSync with { Status = PendingReboot }, [new MarkParameterStatus(R2.Id, null)] },
        { "not set yet, asked for the first time: its status waits for its answer", InSync with { Set = false, Status = Applying }, [new SetParameters(R2.Id)] },
        { "not set yet and in sync till now: no flicker to applying before it answered", InSync with { Set = false }, [new SetParameters(R2.Id)] },
        { "refused just now: applying, and not asked again at once", InSync with { Set = false, RefusedAt = Clock.Now.AddSeconds(-1) }, [new MarkParameterStatus(R2.Id, Applying)] },
        { "refused just now and told so: nothing, the group may be quiet", InSync with { Set = false, Status = Applying, RefusedAt = Clock.Now.AddSeconds(-1) }, [] },
        { "refused a while ago: asked again", InSync with { Set = false, Status = Applying, RefusedAt = Clock.Now.AddSeconds(-10) }, [new SetParameters(R2.Id)] },
        { "started with other start-up values: pending reboot", InSync with { StartedWithWanted = false }, [new MarkParameterStatus(R2.Id, PendingReboot)] },
        { "pending reboot told already: nothing", InSync with { StartedWithWanted = false, Status = PendingReboot }, [] },
        { "pending reboot whose immediate values are not set: set them, and say pending reboot", InSync with { Set = false, StartedWithWanted = false, Status = Applying },
            [new SetParameters(R2.Id), new MarkParameterStatus(R2.Id, PendingReboot)] },
    };

    [Theory]
    [MemberData(nameof(Rows))]
    public void An_available_group_brings_its_nodes_to_their_parameter_group(string name, NodeParameters? replica, NodeAction[] expected)
    {
        var plan = Plan(Group(GroupStatus.Available, InSync, replica));
        Assert.True(expected.SequenceEqual(plan), $"{name}: got {string.Join(", ", plan)}");
    }

    [Fact]
    public void Every_node_out_of_sync_is_planned_in_one_step()
    {
        Assert.Equal([new SetParameters(P1.Id), new SetParameters(R2.Id), new MarkParameterStatus(R2.Id, PendingReboot)],
            Plan(Group(GroupStatus.Available, InSync with { Set = false }, InSync with { Set = false, StartedWithWanted = false })));
    }

    [Fact]
    public void A_snapshotting_group_sets_them_beside_its_snapshots()
    {
        // A node that refuses its values must not hold the snapshots up.
        Assert.Equal([new SetParameters(R2.Id), new TakeSnapshots()], Plan(Group(GroupStatus.Snapshotting, InSync, InSync with { Set = false })));
        Assert.Equal([new TakeSnapshots()], Plan(Group(GroupStatus.Snapshotting, InSync, InSync)));
    }

    [Theory]
    [InlineData(GroupStatus.Modifying)]
    [InlineData(GroupStatus.IncompatibleNetwork)]
    [InlineData(GroupStatus.Deleting)]
    public void Only_a_settled_group_is_touched(GroupStatus status)
    {
        // A modification may need the engines as they are: its new nodes say applying until the group is available again.
        var plan = Plan(Group(status, InSync with { Set = false, Status = Applying }, InSync with { StartedWithWanted = false }));
        Assert.DoesNotContain(plan, a => a is SetParameters or MarkParameterStatus);
    }

    [Fact]
    public void Healing_comes_first()
    {
        var group = Group(GroupStatus.Available, InSync with { Set = false }, InSync with { StartedWithWanted = false });
        var observed = new[] { Primary(P1.Id), new ObservedNode(R2.Id, ContainerState.Exited, ExitCode: 137) }.ToDictionary(o => o.NodeId);
        Assert.Equal([new MarkNode(R2.Id, NodeStatus.Failed, NodeRole.Replica)], RedisPlanner.Plan(group, observed, Zones, Clock.Now));
    }

    [Fact]
    public void A_node_that_is_not_available_is_left_alone()
    {
        // A replica still syncing is waited for; its parameters are set once it serves and the group has nothing else to do.
        var group = new DesiredGroup("g", ClusterMode.Disabled, GroupStatus.Available,
            [new DesiredShard("0001", "0-16383", ShardStatus.Available, [P1 with { Parameters = InSync }, R2 with { Status = NodeStatus.Creating, Parameters = InSync with { Set = false } }])]);
        var observed = new[] { Primary(P1.Id), Replica(R2.Id) with { LinkUp = false } }.ToDictionary(o => o.NodeId);
        Assert.Equal([new Wait($"node {R2.Id} is syncing from {P1.Id}")], RedisPlanner.Plan(group, observed, Zones, Clock.Now));
    }

    private static DesiredCluster Cluster(CacheClusterStatus status, NodeParameters? second, IReadOnlySet<string>? reboot = null) =>
        new("mc", status,
        [
            new DesiredNode("mc-0001", null, NodeRole.Primary, "az-a", NodeStatus.Available, 7001, Parameters: InSync),
            new DesiredNode("mc-0002", null, NodeRole.Primary, "az-b", NodeStatus.Available, 7002, Parameters: second),
        ], reboot);

    private static IReadOnlyList<NodeAction> Plan(DesiredCluster cluster, ObservedNode? second = null) =>
        MemcachedPlanner.Plan(cluster, new[] { new ObservedNode("mc-0001", ContainerState.Running, Reachable: true), second ?? new ObservedNode("mc-0002", ContainerState.Running, Reachable: true) }
            .ToDictionary(o => o.NodeId), Zones, Clock.Now);

    public static TheoryData<string, CacheClusterStatus, NodeParameters?, NodeAction[]> ClusterRows => new()
    {
        { "in sync: nothing, so the cluster stays quiet", CacheClusterStatus.Available, InSync, [] },
        { "started with other start-up values: pending reboot", CacheClusterStatus.Available, InSync with { StartedWithWanted = false }, [new MarkParameterStatus("mc-0002", PendingReboot)] },
        { "pending reboot told already: nothing", CacheClusterStatus.Available, InSync with { StartedWithWanted = false, Status = PendingReboot }, [] },
        { "rebooted into its values: in sync again", CacheClusterStatus.Available, InSync with { Status = PendingReboot }, [new MarkParameterStatus("mc-0002", null)] },
        { "told as a modification settles", CacheClusterStatus.Modifying, InSync with { StartedWithWanted = false },
            [new MarkParameterStatus("mc-0002", PendingReboot), new MarkGroup(GroupStatus.Available, "Cache cluster mc is available")] },
        { "not while the cluster cannot be reached", CacheClusterStatus.IncompatibleNetwork, InSync with { StartedWithWanted = false },
            [new MarkGroup(GroupStatus.Available, "Cache cluster mc is available again")] },
    };

    [Theory]
    [MemberData(nameof(ClusterRows))]
    public void A_cache_cluster_tells_each_node_s_start_up_values(string name, CacheClusterStatus status, NodeParameters? second, NodeAction[] expected)
    {
        var plan = Plan(Cluster(status, second));
        Assert.True(expected.SequenceEqual(plan), $"{name}: got {string.Join(", ", plan)}");
    }

    [Fact]
    public void A_cache_cluster_reboots_and_heals_first()
    {
        var pending = InSync with { StartedWithWanted = false };
        Assert.Equal([new RestartNode("mc-0002")], Plan(Cluster(CacheClusterStatus.Modifying, pending, new HashSet<string> { "mc-0002" })));
        Assert.Equal([new MarkNode("mc-0002", NodeStatus.Failed, NodeRole.Primary)],
            Plan(Cluster(CacheClusterStatus.Available, pending), new ObservedNode("mc-0002", ContainerState.Exited, ExitCode: 137)));
    }
}
