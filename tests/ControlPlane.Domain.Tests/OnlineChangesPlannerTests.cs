using ControlPlane.Domain;
using ControlPlane.Domain.Planning;

namespace ControlPlane.Domain.Tests;

/// <summary>
/// A group modifying for an online change (an auth token, the users, a transit encryption step) says
/// available again only once every node that takes part holds it: what it waits for, the transit step
/// it takes meanwhile (and once more as it settles, for the links), the event it ends with, and the
/// failures it heals first.
/// </summary>
public sealed class OnlineChangesPlannerTests
{
    private const string Small = "cache.small";
    private const string Required = TransitEncryptionModes.Required;
    private const string Preferred = TransitEncryptionModes.Preferred;
    private static readonly PlanContext Zones = new(["az-a", "az-b", "az-c"], new HashSet<string>());

    private static readonly DesiredNode P1 = new("g-0001-001", "0001", NodeRole.Primary, "az-a", NodeStatus.Available, 7001, Small);
    private static readonly DesiredNode R2 = new("g-0001-002", "0001", NodeRole.Replica, "az-b", NodeStatus.Available, 7002, Small);

    /// <summary>As the reconciler gives it: a modification under way always has a target, here the shape the group already has.</summary>
    private static DesiredGroup Group(PendingChanges pending, string? mode, params DesiredNode[] nodes) =>
        new("g", ClusterMode.Disabled, GroupStatus.Modifying, [new DesiredShard("0001", "0-16383", ShardStatus.Available, nodes)],
            Target: new GroupTarget(1, 1, Small), Pending: pending, TransitEncryptionMode: mode);

    private static ObservedNode Primary(string id) => new(id, ContainerState.Running, Reachable: true, IsPrimary: true, Offset: 1000);

    private static ObservedNode Replica(string id) => new(id, ContainerState.Running, Reachable: true, PrimaryNodeId: P1.Id, LinkUp: true, Offset: 1000);

    private static IReadOnlyList<NodeAction> Plan(DesiredGroup group, params ObservedNode[] observed) =>
        RedisPlanner.Plan(group, observed.ToDictionary(o => o.NodeId), Zones, Clock.Now);

    private static DesiredNode At(DesiredNode node, bool holdsUsers, string? mode) => node with { HoldsUsers = holdsUsers, TransitEncryptionMode = mode };

    private static readonly PendingChanges Rotate = new() { AuthTokenUpdateStrategy = "rotate" };
    private static readonly PendingChanges ToRequired = new() { TransitEncryptionMode = new Change<string?>(Required) };
    private static readonly PendingChanges ToRequiredWithTeam = ToRequired with { UserGroupIds = ["team"] };

    private static string Complete(string what) => $"Modification complete for replication group g: {what}";

    private static readonly MarkGroup Settled =
        new(GroupStatus.Available, Complete("every node holds the users of user group team; every node serves transit encryption mode required"));

    public static TheoryData<string, PendingChanges, string?, DesiredNode, DesiredNode, NodeAction[]> Rows => new()
    {
        { "a node without the users is waited for", Rotate, null, At(P1, true, null), At(R2, false, null),
            [new Wait("cache nodes g-0001-002 do not hold the group's client users yet")] },
        { "a node behind on transit mode takes the step, and the group waits for it", ToRequired, Required, At(P1, false, Required), At(R2, false, Preferred),
            [new StepTransitEncryption(), new Wait("cache nodes g-0001-002 are not at transit encryption mode required yet")] },
        { "one wait says all that lags", ToRequiredWithTeam, Required, At(P1, true, Required), At(R2, false, Preferred),
            [new StepTransitEncryption(), new Wait("cache nodes g-0001-002 do not hold the group's client users yet; cache nodes g-0001-002 are not at transit encryption mode required yet")] },
        { "with every node at the mode, only the users are waited for", ToRequiredWithTeam, Required, At(P1, false, Required), At(R2, true, Required),
            [new StepTransitEncryption(), new Wait("cache nodes g-0001-001 do not hold the group's client users yet")] },
        { "a rotation done", Rotate, null, At(P1, true, null), At(R2, true, null),
            [new MarkGroup(GroupStatus.Available, Complete("the new auth token is accepted on every node, the previous one too until it is set"))] },
        { "a token set", new PendingChanges { AuthTokenUpdateStrategy = "set" }, null, At(P1, true, null), At(R2, true, null),
            [new MarkGroup(GroupStatus.Available, Complete("only the new auth token is accepted on every node"))] },
        { "a token deleted", new PendingChanges { AuthTokenUpdateStrategy = "delete" }, null, At(P1, true, null), At(R2, true, null),
            [new MarkGroup(GroupStatus.Available, Complete("the auth token is deleted on every node"))] },
        { "a user group and a transit step done, the links switched as it settles", ToRequiredWithTeam, Required, At(P1, true, Required), At(R2, true, Required),
            [new StepTransitEncryption(), new MarkGroup(GroupStatus.Available, Complete("every node holds the users of user group team; every node serves transit encryption mode required"))] },
        { "no user group any more", new PendingChanges { UserGroupIds = [] }, null, At(P1, true, null), At(R2, true, null),
            [new MarkGroup(GroupStatus.Available, Complete("every node is open to clients without a user group"))] },
        { "a transit step asks nothing of the users", new PendingChanges { TransitEncryptionMode = new Change<string?>(Preferred) }, Preferred, At(P1, false, Preferred), At(R2, false, Preferred),
            [new StepTransitEncryption(), new MarkGroup(GroupStatus.Available, Complete("every node serves transit encryption mode preferred"))] },
    };

    [Theory]
    [MemberData(nameof(Rows))]
    public void A_healthy_group_settles_once_every_node_holds_the_change(string name, PendingChanges pending, string? mode, DesiredNode primary, DesiredNode replica, NodeAction[] expected)
    {
        var plan = Plan(Group(pending, mode, primary, replica), Primary(primary.Id), Replica(replica.Id));
        Assert.True(expected.SequenceEqual(plan), $"{name}: got {string.Join(", ", plan)}");
    }

    [Fact]
    public void A_failure_is_healed_before_the_group_waits_for_its_nodes()
    {
        // The replica lacks the users and the mode, and its container exited: it is reported failed, not waited for.
        var group = Group(ToRequiredWithTeam, Required, At(P1, true, Required), At(R2, false, Preferred));
        Assert.Equal([new MarkNode(R2.Id, NodeStatus.Failed, NodeRole.Replica)], Plan(group, Primary(P1.Id), new ObservedNode(R2.Id, ContainerState.Exited)));
    }

    [Fact]
    public void A_failed_node_does_not_hold_the_group()
    {
        // Failed, it is replaced; its replacement starts with the group's users and mode, and the group settles.
        var failed = At(R2, false, Preferred) with { Status = NodeStatus.Failed };
        Assert.Equal([new ReplaceNode(R2.Id, "az-b")],
            Plan(Group(ToRequiredWithTeam, Required, At(P1, true, Required), failed), Primary(P1.Id), ObservedNode.Missing(R2.Id)));
        var replacement = At(R2, true, Required) with { Id = "g-0001-003", Port = 7003 };
        Assert.Equal([new StepTransitEncryption(), Settled],
            Plan(Group(ToRequiredWithTeam, Required, At(P1, true, Required), replacement), Primary(P1.Id), Replica(replacement.Id)));

        // Nor does a node on its way out (with no target left to remove it first).
        var leaving = At(R2, false, Preferred) with { Status = NodeStatus.Deleting };
        Assert.Equal([new StepTransitEncryption(), Settled],
            Plan(Group(ToRequiredWithTeam, Required, At(P1, true, Required), leaving) with { Target = null }, Primary(P1.Id), Replica(leaving.Id)));
    }
}
