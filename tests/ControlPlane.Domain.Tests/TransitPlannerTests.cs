using ControlPlane.Domain;
using ControlPlane.Domain.Planning;

namespace ControlPlane.Domain.Tests;

/// <summary>
/// An available group's (and cache cluster's) transit encryption work is the planner's too: a
/// certificate due, the inner ports of a multiplexer that is gone, a step a control plane stopped half
/// way. Asked only once nothing but waiting is left, only of nodes that answer, and never of a quiet
/// group: its plan stays empty.
/// </summary>
public sealed class TransitPlannerTests
{
    private const string Small = "cache.small";
    private const string Required = TransitEncryptionModes.Required;
    private const string Preferred = TransitEncryptionModes.Preferred;
    private static readonly PlanContext Zones = new(["az-a", "az-b", "az-c"], new HashSet<string>());
    private static readonly DateTimeOffset Due = Clock.Now.AddMinutes(-1);
    private static readonly DateTimeOffset Later = Clock.Now.AddDays(30);

    private static readonly DesiredNode P1 = new("g-0001-001", "0001", NodeRole.Primary, "az-a", NodeStatus.Available, 7001, Small,
        TransitEncryptionMode: Required, CertificateRenewAt: Later);
    private static readonly DesiredNode R2 = new("g-0001-002", "0001", NodeRole.Replica, "az-b", NodeStatus.Available, 7002, Small,
        TransitEncryptionMode: Required, CertificateRenewAt: Later);

    private static DesiredGroup Group(string? mode, params DesiredNode[] nodes) =>
        new("g", ClusterMode.Disabled, GroupStatus.Available, [new DesiredShard("0001", "0-16383", ShardStatus.Available, nodes)], TransitEncryptionMode: mode);

    private static ObservedNode Primary(string id) => new(id, ContainerState.Running, Reachable: true, IsPrimary: true, Offset: 1000);

    private static ObservedNode Replica(string id) => new(id, ContainerState.Running, Reachable: true, PrimaryNodeId: P1.Id, LinkUp: true, Offset: 1000);

    /// <summary>az-b's engine does not answer (not down past the grace: its nodes are waited for, not replaced).</summary>
    private static readonly PlanContext ZoneBOutOfReach = Zones with { ZonesUnreachable = new HashSet<string> { "az-b" } };

    private static IReadOnlyList<NodeAction> Plan(DesiredGroup group, params ObservedNode[] observed) => Plan(group, Zones, observed);

    private static IReadOnlyList<NodeAction> Plan(DesiredGroup group, PlanContext context, params ObservedNode[] observed) =>
        RedisPlanner.Plan(group, observed.ToDictionary(o => o.NodeId), context, Clock.Now);

    public static TheoryData<string, string?, DesiredNode, DesiredNode, NodeAction[]> Rows => new()
    {
        { "nothing due: a quiet group plans nothing", Required, P1, R2, [] },
        { "plain text, nothing to renew", null, P1 with { TransitEncryptionMode = null, CertificateRenewAt = null }, R2 with { TransitEncryptionMode = null, CertificateRenewAt = null }, [] },
        { "a certificate due", Required, P1, R2 with { CertificateRenewAt = Due }, [new StepTransitEncryption()] },
        { "a certificate due exactly now", Required, P1 with { CertificateRenewAt = Clock.Now }, R2, [new StepTransitEncryption()] },
        { "a multiplexer gone, its inner ports still leased", Required, P1 with { InnerPortsToRelease = true }, R2, [new StepTransitEncryption()] },
        { "a step stopped half way", Required, P1, R2 with { TransitEncryptionMode = Preferred }, [new StepTransitEncryption()] },
        { "a plain-text group leaves TLS nodes alone (no step back)", null, P1, R2, [] },
    };

    [Theory]
    [MemberData(nameof(Rows))]
    public void An_available_group_takes_its_transit_step_only_when_something_is_due(string name, string? mode, DesiredNode primary, DesiredNode replica, NodeAction[] expected)
    {
        var plan = Plan(Group(mode, primary, replica), Primary(primary.Id), Replica(replica.Id));
        Assert.True(expected.SequenceEqual(plan), $"{name}: got {string.Join(", ", plan)}");
    }

    [Fact]
    public void Healing_comes_first()
    {
        // The replica's container exited: it is reported failed; the renewal waits for the next step.
        var group = Group(Required, P1 with { CertificateRenewAt = Due }, R2);
        Assert.Equal([new MarkNode(R2.Id, NodeStatus.Failed, NodeRole.Replica)], Plan(group, Primary(P1.Id), new ObservedNode(R2.Id, ContainerState.Exited)));
    }

    [Fact]
    public void A_node_that_waits_does_not_keep_the_others_certificates_from_renewal()
    {
        // The failed replica's replacement waits for its zone to answer again: the primary gets its
        // certificate meanwhile; the failed replica is not asked.
        var failed = R2 with { Status = NodeStatus.Failed, CertificateRenewAt = Due };
        ObservedNode[] seen = [Primary(P1.Id), new(R2.Id, ContainerState.ZoneUnreachable)];
        var waiting = Plan(Group(Required, P1, failed), ZoneBOutOfReach, seen);
        Assert.Equal([new Wait($"the zone of node {R2.Id} is unreachable; waiting for it before placing the replacement elsewhere")], waiting);
        Assert.Equal([.. waiting, new StepTransitEncryption()], Plan(Group(Required, P1 with { CertificateRenewAt = Due }, failed), ZoneBOutOfReach, seen));
    }

    [Fact]
    public void A_modifying_or_snapshotting_group_is_not_asked()
    {
        var due = P1 with { CertificateRenewAt = Due };
        Assert.DoesNotContain(new StepTransitEncryption(), Plan(Group(Required, due, R2) with { Status = GroupStatus.Snapshotting }, Primary(P1.Id), Replica(R2.Id)));
    }

    private static readonly DesiredNode M1 = new("m-0001", null, NodeRole.Primary, "az-a", NodeStatus.Available, 7101, CertificateRenewAt: Later);
    private static readonly DesiredNode M2 = new("m-0002", null, NodeRole.Primary, "az-b", NodeStatus.Available, 7102, CertificateRenewAt: Later);

    private static IReadOnlyList<NodeAction> PlanCluster(DesiredNode first, DesiredNode second, ObservedNode? secondSeen = null) =>
        MemcachedPlanner.Plan(new DesiredCluster("m", CacheClusterStatus.Available, [first, second]),
            new[] { new ObservedNode(first.Id, ContainerState.Running, Reachable: true), secondSeen ?? new ObservedNode(second.Id, ContainerState.Running, Reachable: true) }
                .ToDictionary(o => o.NodeId), secondSeen is null ? Zones : ZoneBOutOfReach, Clock.Now);

    [Fact]
    public void A_cache_cluster_renews_its_certificates_when_due()
    {
        Assert.Empty(PlanCluster(M1, M2));
        Assert.Equal([new RenewCertificates()], PlanCluster(M1, M2 with { CertificateRenewAt = Due }));
        // Without TLS the reconciler gives no renewal time.
        Assert.Empty(PlanCluster(M1 with { CertificateRenewAt = null }, M2 with { CertificateRenewAt = null }));
        // A failed node waits for its zone to place its replacement: the node that answers is renewed meanwhile; the failed one is not asked.
        var failed = M2 with { Status = NodeStatus.Failed, CertificateRenewAt = Due };
        var waiting = PlanCluster(M1, failed, new ObservedNode(M2.Id, ContainerState.ZoneUnreachable));
        Assert.Equal([new Wait($"the zone of node {M2.Id} is unreachable; waiting for it before placing the replacement elsewhere")], waiting);
        Assert.Equal([.. waiting, new RenewCertificates()], PlanCluster(M1 with { CertificateRenewAt = Due }, failed, new ObservedNode(M2.Id, ContainerState.ZoneUnreachable)));
    }
}
