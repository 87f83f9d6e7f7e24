using ControlPlane.Domain;
using ControlPlane.Domain.Planning;

namespace ControlPlane.Domain.Tests;

/// <summary>
/// A group modifying for an online change (an auth token, the users, a transit encryption step) says
/// available again only once every node that takes part holds it: what it waits for, the transit step
/// it takes meanwhile (and once more as it settles, for the links), the event it ends with, and the
/// failures it heals first. A node that answers without the users is given them in the step that
/// waits for it (<see cref="ClientUsersPlannerTests"/>).
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

    private static ObservedNode Primary(string id, bool holdsUsers = true, bool stale = false) =>
        new(id, ContainerState.Running, Reachable: true, IsPrimary: true, Offset: 1000, HoldsUsers: holdsUsers, Stale: stale);

    private static ObservedNode Replica(string id, bool holdsUsers = true, bool stale = false) =>
        new(id, ContainerState.Running, Reachable: true, PrimaryNodeId: P1.Id, LinkUp: true, Offset: 1000, HoldsUsers: holdsUsers, Stale: stale);

    private static IReadOnlyList<NodeAction> Plan(DesiredGroup group, params ObservedNode[] observed) =>
        RedisPlanner.Plan(group, observed.ToDictionary(o => o.NodeId), Zones, Clock.Now);

    /// <summary>A node at a transit encryption mode, whether it holds the users, and whether its last probe was missed (it answered the one before).</summary>
    public sealed record At(DesiredNode Node, bool HoldsUsers, string? Mode, bool Missed = false)
    {
        public DesiredNode Desired => Node with { TransitEncryptionMode = Mode };
    }

    private static readonly PendingChanges Rotate = new() { AuthTokenUpdateStrategy = "rotate" };
    private static readonly PendingChanges ToRequired = new() { TransitEncryptionMode = new Change<string?>(Required) };
    private static readonly PendingChanges ToRequiredWithTeam = ToRequired with { UserGroupIds = ["team"] };

    private static string Complete(string what) => $"Modification complete for replication group g: {what}";

    private static readonly MarkGroup Settled =
        new(GroupStatus.Available, Complete("every node holds the users of user group team; every node serves transit encryption mode required"));

    public static TheoryData<string, PendingChanges, string?, At, At, NodeAction[]> Rows => new()
    {
        { "a node without the users is given them, and waited for", Rotate, null, new(P1, true, null), new(R2, false, null),
            [new Wait("cache nodes g-0001-002 do not hold the group's client users yet"), new SetClientUsers("g-0001-002")] },
        { "one that missed its last probe is only waited for", Rotate, null, new(P1, true, null), new(R2, false, null, Missed: true),
            [new Wait("cache nodes g-0001-002 do not hold the group's client users yet")] },
        { "a node behind on transit mode takes the step, and the group waits for it", ToRequired, Required, new(P1, true, Required), new(R2, true, Preferred),
            [new StepTransitEncryption(), new Wait("cache nodes g-0001-002 are not at transit encryption mode required yet")] },
        { "one wait says all that lags", ToRequiredWithTeam, Required, new(P1, true, Required), new(R2, false, Preferred, Missed: true),
            [new StepTransitEncryption(), new Wait("cache nodes g-0001-002 do not hold the group's client users yet; cache nodes g-0001-002 are not at transit encryption mode required yet")] },
        { "with every node at the mode, only the users are waited for", ToRequiredWithTeam, Required, new(P1, false, Required, Missed: true), new(R2, true, Required),
            [new StepTransitEncryption(), new Wait("cache nodes g-0001-001 do not hold the group's client users yet")] },
        { "a rotation done", Rotate, null, new(P1, true, null), new(R2, true, null),
            [new MarkGroup(GroupStatus.Available, Complete("the new auth token is accepted on every node, the previous one too until it is set"))] },
        { "a token set", new PendingChanges { AuthTokenUpdateStrategy = "set" }, null, new(P1, true, null), new(R2, true, null),
            [new MarkGroup(GroupStatus.Available, Complete("only the new auth token is accepted on every node"))] },
        { "a token deleted", new PendingChanges { AuthTokenUpdateStrategy = "delete" }, null, new(P1, true, null), new(R2, true, null),
            [new MarkGroup(GroupStatus.Available, Complete("the auth token is deleted on every node"))] },
        { "a user group and a transit step done, the links switched as it settles", ToRequiredWithTeam, Required, new(P1, true, Required), new(R2, true, Required),
            [new StepTransitEncryption(), new MarkGroup(GroupStatus.Available, Complete("every node holds the users of user group team; every node serves transit encryption mode required"))] },
        { "no user group any more", new PendingChanges { UserGroupIds = [] }, null, new(P1, true, null), new(R2, true, null),
            [new MarkGroup(GroupStatus.Available, Complete("every node is open to clients without a user group"))] },
        { "a transit step asks nothing of the users", new PendingChanges { TransitEncryptionMode = new Change<string?>(Preferred) }, Preferred,
            new(P1, false, Preferred, Missed: true), new(R2, false, Preferred, Missed: true),
            [new StepTransitEncryption(), new MarkGroup(GroupStatus.Available, Complete("every node serves transit encryption mode preferred"))] },
    };

    [Theory]
    [MemberData(nameof(Rows))]
    public void A_healthy_group_settles_once_every_node_holds_the_change(string name, PendingChanges pending, string? mode, At primary, At replica, NodeAction[] expected)
    {
        var plan = Plan(Group(pending, mode, primary.Desired, replica.Desired),
            Primary(primary.Node.Id, primary.HoldsUsers, primary.Missed), Replica(replica.Node.Id, replica.HoldsUsers, replica.Missed));
        Assert.True(expected.SequenceEqual(plan), $"{name}: got {string.Join(", ", plan)}");
    }

    [Fact]
    public void A_failure_is_healed_before_the_group_waits_for_its_nodes()
    {
        // The replica lacks the users and the mode, and its container exited: it is reported failed, not waited for.
        var group = Group(ToRequiredWithTeam, Required, P1 with { TransitEncryptionMode = Required }, R2 with { TransitEncryptionMode = Preferred });
        Assert.Equal([new MarkNode(R2.Id, NodeStatus.Failed, NodeRole.Replica)],
            Plan(group, Primary(P1.Id), new ObservedNode(R2.Id, ContainerState.Exited, HoldsUsers: false)));
    }

    [Fact]
    public void A_failed_node_does_not_hold_the_group()
    {
        // Failed, it is replaced; its replacement starts with the group's users and mode, and the group settles.
        var primary = P1 with { TransitEncryptionMode = Required };
        var failed = R2 with { TransitEncryptionMode = Preferred, Status = NodeStatus.Failed };
        Assert.Equal([new ReplaceNode(R2.Id, "az-b")],
            Plan(Group(ToRequiredWithTeam, Required, primary, failed), Primary(P1.Id), ObservedNode.Missing(R2.Id) with { HoldsUsers = false }));
        var replacement = R2 with { Id = "g-0001-003", Port = 7003, TransitEncryptionMode = Required };
        Assert.Equal([new StepTransitEncryption(), Settled],
            Plan(Group(ToRequiredWithTeam, Required, primary, replacement), Primary(P1.Id), Replica(replacement.Id)));

        // Nor does a node on its way out (with no target left to remove it first), while it misses its probes.
        var leaving = R2 with { TransitEncryptionMode = Preferred, Status = NodeStatus.Deleting };
        Assert.Equal([new StepTransitEncryption(), Settled],
            Plan(Group(ToRequiredWithTeam, Required, primary, leaving) with { Target = null }, Primary(P1.Id), Replica(leaving.Id, holdsUsers: false, stale: true)));
    }
}
