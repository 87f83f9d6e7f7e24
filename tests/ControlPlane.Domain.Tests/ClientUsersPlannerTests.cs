using ControlPlane.Domain;
using ControlPlane.Domain.Planning;

namespace ControlPlane.Domain.Tests;

/// <summary>
/// A node serves clients only with its group's users: every node that answers without them is given
/// them in the step that wires it (the executor writes them before the plan's other steps act), never
/// beside a failure being handled, and once every answering node holds them the group says which
/// revision that is.
/// </summary>
public sealed class ClientUsersPlannerTests
{
    private const string Primary1 = "g-0001-001";
    private const string Replica2 = "g-0001-002";
    private static readonly PlanContext Zones = new(["az-a", "az-b", "az-c"], new HashSet<string>());

    private static DesiredGroup Group(GroupStatus status = GroupStatus.Available, NodeStatus nodes = NodeStatus.Available, ClusterMode mode = ClusterMode.Disabled) =>
        new("g", mode, status,
        [
            new DesiredShard("0001", "0-16383", status == GroupStatus.Creating ? ShardStatus.Creating : ShardStatus.Available,
            [
                new DesiredNode(Primary1, "0001", NodeRole.Primary, "az-a", nodes, 7001),
                new DesiredNode(Replica2, "0001", NodeRole.Replica, "az-b", nodes, 7002),
            ]),
        ], CreatedAt: Clock.Now);

    private static ObservedNode Primary(bool holds = true, bool stale = false) =>
        new(Primary1, ContainerState.Running, Reachable: true, IsPrimary: true, Offset: 1000, HoldsUsers: holds, Stale: stale);

    private static ObservedNode Replica(bool holds = true, bool stale = false) =>
        new(Replica2, ContainerState.Running, Reachable: true, PrimaryNodeId: Primary1, LinkUp: true, Offset: 1000, HoldsUsers: holds, Stale: stale);

    /// <summary>Started, answering, not wired yet.</summary>
    private static ObservedNode Alone(string id, bool holds) => new(id, ContainerState.Running, Reachable: true, IsPrimary: true, HoldsUsers: holds);

    private static IReadOnlyList<NodeAction> Plan(DesiredGroup group, params ObservedNode[] observed) =>
        RedisPlanner.Plan(group, observed.ToDictionary(o => o.NodeId), Zones, Clock.Now);

    private static DesiredGroup Marked(string? wanted, string? applied) => Group() with { ClientAccess = wanted, ClientAccessApplied = applied };

    private static DesiredGroup WithNodes(DesiredGroup group, params DesiredNode[] nodes) => group with { Shards = [group.Shards[0] with { Nodes = nodes }] };

    public static TheoryData<string, DesiredGroup, ObservedNode[], NodeAction[]> Rows => new()
    {
        { "every node holds the users: nothing to do, the group stays quiet", Marked("team@2", "team@2"), [Primary(), Replica()], [] },
        { "a node that answers without the users is given them", Group(), [Primary(), Replica(holds: false)], [new SetClientUsers(Replica2)] },
        { "so is every such node, in one step", Group(), [Primary(holds: false), Replica(holds: false)], [new SetClientUsers(Primary1), new SetClientUsers(Replica2)] },
        { "a node that missed its last probe is not written to: the write could hang the step", Group(), [Primary(), Replica(holds: false, stale: true)], [] },
        { "the users go with a modification's steps", Group(GroupStatus.Modifying) with { Target = new GroupTarget(1, 2, "") },
            [Primary(), Replica(holds: false)], [new AddNode("0001", NodeRole.Replica, "az-c", ""), new SetClientUsers(Replica2)] },
        { "a group being deleted is given no users", Group(GroupStatus.Deleting), [Primary(holds: false), Replica(holds: false)],
            [new RemoveContainer(Primary1), new RemoveContainer(Replica2)] },
        { "once every node holds a new revision, the group says so", Marked("team@3", "team@2"), [Primary(), Replica()], [new MarkClientAccess("team@3")] },
        { "and that it has no user group any more", Marked(null, "team@2"), [Primary(), Replica()], [new MarkClientAccess(null)] },
        { "not while a node that answers lacks them", Marked("team@3", "team@2"), [Primary(), Replica(holds: false)], [new SetClientUsers(Replica2)] },
        { "nor while one that missed its last probe may", Marked("team@3", "team@2"), [Primary(), Replica(holds: false, stale: true)], [] },
        { "a node that does not answer does not hold the mark back; it goes with the failure being handled", Marked("team@3", "team@2"),
            [Primary(), new ObservedNode(Replica2, ContainerState.Exited, HoldsUsers: false)],
            [new MarkNode(Replica2, NodeStatus.Failed, NodeRole.Replica), new MarkClientAccess("team@3")] },
        { "nor is a group being deleted marked", Group(GroupStatus.Deleting) with { ClientAccess = "team@3", ClientAccessApplied = "team@2" }, [],
            [new ReleaseAll()] },
    };

    [Theory]
    [MemberData(nameof(Rows))]
    public void Every_answering_node_holds_the_users_and_the_group_says_so(string name, DesiredGroup group, ObservedNode[] observed, NodeAction[] expected)
    {
        var plan = Plan(group, observed);
        Assert.True(expected.SequenceEqual(plan), $"{name}: got {string.Join(", ", plan)}");
    }

    [Fact]
    public void A_primary_failing_over_is_not_delayed_by_the_users_of_other_nodes()
    {
        // Its container gone, the replica (that lacks the users) takes over in the same step, and nothing else is in that step.
        var lost = new ObservedNode(Primary1, ContainerState.Exited, HoldsUsers: false);
        Assert.Equal([new MarkNode(Primary1, NodeStatus.Failed, NodeRole.Primary), new Failover("0001", Primary1, Replica2), new Promote(Replica2, Primary1)],
            Plan(Group(), lost, Replica(holds: false)));

        // Nor does a decided failover wait for them: the new primary is promoted, the lost node replaced, then the users go with the replacement's start.
        var nodes = Group().Shards[0].Nodes;
        var decided = WithNodes(Group(), nodes[0] with { Status = NodeStatus.Failed, Role = NodeRole.Replica }, nodes[1] with { Role = NodeRole.Primary });
        Assert.Equal([new Promote(Replica2, Primary1)], Plan(decided, ObservedNode.Missing(Primary1), Replica(holds: false)));
        var promoted = Replica(holds: false) with { IsPrimary = true, PrimaryNodeId = null };
        Assert.Equal([new ReplaceNode(Primary1, "az-a")], Plan(decided, ObservedNode.Missing(Primary1), promoted));
        var replaced = WithNodes(decided, nodes[0] with { Id = "g-0001-003", Status = NodeStatus.Creating, Role = NodeRole.Replica }, nodes[1] with { Role = NodeRole.Primary });
        Assert.Equal([new StartContainer("g-0001-003"), new SetClientUsers(Replica2)], Plan(replaced, ObservedNode.Missing("g-0001-003"), promoted));
    }

    [Fact]
    public void A_primary_that_missed_its_last_probe_is_not_written_to_while_the_others_are()
    {
        // It may be dying: a write could hang the step for the command timeout, and the failover with it.
        Assert.Equal([new SetClientUsers(Replica2)], Plan(Group(), Primary(holds: false, stale: true), Replica(holds: false)));
    }

    [Fact]
    public void A_held_shard_does_not_keep_the_users_from_the_nodes_that_answer()
    {
        // The primary stopped answering while its container runs, with no synced replica: held, not replaced. The replica still gets its users.
        var group = WithNodes(Group(), Group().Shards[0].Nodes[0], Group().Shards[0].Nodes[1] with { Status = NodeStatus.Creating });
        var silent = new ObservedNode(Primary1, ContainerState.Running, Reachable: false);
        var plan = Plan(group, silent, Replica(holds: false));
        Assert.Equal(2, plan.Count);
        Assert.IsType<Hold>(plan[0]);
        Assert.Equal(new SetClientUsers(Replica2), plan[1]);
    }

    [Fact]
    public void A_new_group_gives_its_nodes_their_users_in_the_step_that_wires_them()
    {
        var creating = Group(GroupStatus.Creating, NodeStatus.Creating);
        Assert.Equal([new ReplicateFrom(Replica2, Primary1), new SetClientUsers(Primary1), new SetClientUsers(Replica2)],
            Plan(creating, Alone(Primary1, false), Alone(Replica2, false)));
        Assert.Equal([new ReplicateFrom(Replica2, Primary1)], Plan(creating, Alone(Primary1, true), Alone(Replica2, true)));
        // One that missed its last probe cannot be given them now: it is not wired either, it is still starting.
        Assert.Equal([new Wait($"node {Replica2} is starting")], Plan(creating, Alone(Primary1, true), Alone(Replica2, false) with { Stale = true }));
    }

    [Fact]
    public void A_new_cluster_gives_its_nodes_their_users_in_the_step_that_gives_them_slots()
    {
        var creating = Group(GroupStatus.Creating, NodeStatus.Creating, ClusterMode.Enabled);
        ObservedNode Fresh(string id, bool holds) => Alone(id, holds) with { ClusterId = "cid-" + id, KnownNodeIds = new HashSet<string> { id } };
        Assert.Equal([new SetConfigEpoch(Primary1, 1), new AssignSlots(Primary1, "0-16383"), new SetClientUsers(Primary1)],
            Plan(creating, Fresh(Primary1, false), Fresh(Replica2, true)));
    }
}
