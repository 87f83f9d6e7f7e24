using ControlPlane.Domain;
using ControlPlane.Domain.Planning;

namespace ControlPlane.Domain.Tests;

/// <summary>The failover decisions as pure functions: who is dead, who takes over, what is fenced and replaced, where.</summary>
public sealed class FailoverPlannerTests
{
    private static readonly PlanContext Zones = new(["az-a", "az-b", "az-c"], new HashSet<string>());

    private static DesiredNode Node(string id, NodeRole role, string zone, NodeStatus status = NodeStatus.Available, string shard = "0001") =>
        new(id, shard, role, zone, status, 7000 + int.Parse(id[^3..]));

    private static DesiredGroup Group(bool failover = true, ClusterMode mode = ClusterMode.Disabled, IReadOnlySet<string>? tests = null, params DesiredNode[] nodes) =>
        new("g", mode, GroupStatus.Available, [new DesiredShard("0001", "0-16383", ShardStatus.Available, nodes)], failover, tests);

    private static readonly DesiredNode[] Healthy =
        [Node("g-0001-001", NodeRole.Primary, "az-a"), Node("g-0001-002", NodeRole.Replica, "az-b"), Node("g-0001-003", NodeRole.Replica, "az-c")];

    private static readonly DesiredNode[] PrimaryFailed =
        [Node("g-0001-001", NodeRole.Primary, "az-a", NodeStatus.Failed), Node("g-0001-002", NodeRole.Replica, "az-b"), Node("g-0001-003", NodeRole.Replica, "az-c")];

    // After the decision: 003 is the primary to be, 001 a failed replica to fence and replace.
    private static readonly DesiredNode[] Decided =
        [Node("g-0001-001", NodeRole.Replica, "az-a", NodeStatus.Failed), Node("g-0001-002", NodeRole.Replica, "az-b"), Node("g-0001-003", NodeRole.Primary, "az-c")];

    private static ObservedNode Primary(string id, long offset = 1000) => new(id, ContainerState.Running, Reachable: true, IsPrimary: true, Offset: offset);

    private static ObservedNode Replica(string id, string of, long offset, bool link = true) =>
        new(id, ContainerState.Running, Reachable: true, PrimaryNodeId: of, LinkUp: link, Offset: offset);

    private static ObservedNode Gone(string id, ContainerState state = ContainerState.Exited) => new(id, state);

    /// <summary>Its container runs but it missed enough probes to be suspected.</summary>
    private static ObservedNode Silent(string id) => new(id, ContainerState.Running, Reachable: false);

    /// <summary>Not answered yet since the control plane started, and not missed often enough to suspect.</summary>
    private static ObservedNode Unknown(string id) => new(id, ContainerState.Running, Stale: true);

    private static IReadOnlyList<NodeAction> Plan(DesiredGroup group, PlanContext context, params ObservedNode[] observed) =>
        RedisPlanner.Plan(group, observed.ToDictionary(o => o.NodeId), context, Clock.Now);

    public static TheoryData<string, DesiredGroup, PlanContext, ObservedNode[], NodeAction[]> Rows => new()
    {
        { "a dead primary is reported and, the choice being clear, failed over to the best replica in the same step", Group(nodes: Healthy), Zones,
            [Gone("g-0001-001"), Replica("g-0001-002", "g-0001-001", 900, false), Replica("g-0001-003", "g-0001-001", 950, false)],
            [new MarkNode("g-0001-001", NodeStatus.Failed, NodeRole.Primary), new Failover("0001", "g-0001-001", "g-0001-003"), new Promote("g-0001-003", "g-0001-001")] },
        { "a dead primary whose replicas' offsets are not fresh is only reported", Group(nodes: Healthy), Zones,
            [Gone("g-0001-001"), Replica("g-0001-002", "g-0001-001", 900, false) with { Stale = true }, Replica("g-0001-003", "g-0001-001", 950, false)],
            [new MarkNode("g-0001-001", NodeStatus.Failed, NodeRole.Primary)] },
        { "a hung primary counts as dead", Group(nodes: Healthy), Zones,
            [new ObservedNode("g-0001-001", ContainerState.Running, Reachable: false), Replica("g-0001-002", "g-0001-001", 900), Replica("g-0001-003", "g-0001-001", 950)],
            [new MarkNode("g-0001-001", NodeStatus.Failed, NodeRole.Primary), new Failover("0001", "g-0001-001", "g-0001-003")] },
        { "a hung primary whose replicas have not synced yet holds the only copy: held, not replaced empty",
            Group(nodes: [Healthy[0], Node("g-0001-002", NodeRole.Replica, "az-b", NodeStatus.Creating), Node("g-0001-003", NodeRole.Replica, "az-c", NodeStatus.Replacing)]), Zones,
            [Silent("g-0001-001"), Replica("g-0001-002", "g-0001-001", 0, false), Replica("g-0001-003", "g-0001-001", 0, false)],
            [new Hold("Cache node g-0001-001, the primary of node group 0001, stopped answering while its container runs, "
                + "and no replica has synced its data: it is not replaced by an empty node while it may come back")] },
        { "a hung primary with a synced replica, even of an empty data set, is failed over", Group(nodes: Healthy), Zones,
            [Silent("g-0001-001"), Replica("g-0001-002", "g-0001-001", 0, false), Replica("g-0001-003", "g-0001-001", 0, false)],
            [new MarkNode("g-0001-001", NodeStatus.Failed, NodeRole.Primary), new Failover("0001", "g-0001-001", "g-0001-002")] },
        { "a primary whose replicas have not synced and whose container is gone is replaced: its data is lost",
            Group(nodes: [Healthy[0], Node("g-0001-002", NodeRole.Replica, "az-b", NodeStatus.Creating)]), Zones,
            [Gone("g-0001-001"), Replica("g-0001-002", "g-0001-001", 0, false)],
            [new MarkNode("g-0001-001", NodeStatus.Failed, NodeRole.Primary)] },
        { "the replica with the highest offset takes over", Group(nodes: PrimaryFailed), Zones,
            [Gone("g-0001-001"), Replica("g-0001-002", "g-0001-001", 900, false), Replica("g-0001-003", "g-0001-001", 950, false)],
            [new Failover("0001", "g-0001-001", "g-0001-002") with { ToNodeId = "g-0001-003" }] },
        { "a dead replica is not a candidate", Group(nodes: [PrimaryFailed[0], PrimaryFailed[1], Node("g-0001-003", NodeRole.Replica, "az-c", NodeStatus.Failed)]), Zones,
            [Gone("g-0001-001"), Replica("g-0001-002", "g-0001-001", 900, false), Gone("g-0001-003", ContainerState.Missing)],
            [new Failover("0001", "g-0001-001", "g-0001-002")] },
        { "a hung old primary is fenced before the promotion", Group(nodes: Decided), Zones,
            [new ObservedNode("g-0001-001", ContainerState.Running, Reachable: false), Replica("g-0001-002", "g-0001-001", 900, false), Replica("g-0001-003", "g-0001-001", 950, false)],
            [new RemoveContainer("g-0001-001")] },
        { "an exited old primary takes no writes: promote at once", Group(nodes: Decided), Zones,
            [Gone("g-0001-001"), Replica("g-0001-002", "g-0001-001", 900, false), Replica("g-0001-003", "g-0001-001", 950, false)],
            [new Promote("g-0001-003", "g-0001-001")] },
        { "a stale offset is no ground for a decision", Group(nodes: PrimaryFailed), Zones,
            [Gone("g-0001-001"), Replica("g-0001-002", "g-0001-001", 900, false) with { Stale = true }, Replica("g-0001-003", "g-0001-001", 950, false)],
            [new Wait("the replication offset of g-0001-002 is not fresh")] },
        { "a replacement waits while its zone is unreachable within the grace", Group(nodes: Decided), new(["az-a", "az-b", "az-c"], new HashSet<string>(), new HashSet<string> { "az-a" }),
            [Gone("g-0001-001", ContainerState.ZoneUnreachable), Replica("g-0001-002", "g-0001-003", 900), Primary("g-0001-003")],
            [new Wait("the zone of node g-0001-001 is unreachable; waiting for it before placing the replacement elsewhere")] },
        { "a fenced primary's best replica is promoted", Group(nodes: Decided), Zones,
            [Gone("g-0001-001", ContainerState.Missing), Replica("g-0001-002", "g-0001-001", 900, false), Replica("g-0001-003", "g-0001-001", 950, false)],
            [new Promote("g-0001-003", "g-0001-001")] },
        { "an unreachable zone counts as fenced: its node has no restart policy", Group(nodes: Decided), Zones,
            [Gone("g-0001-001", ContainerState.ZoneUnreachable), Replica("g-0001-002", "g-0001-001", 900, false), Replica("g-0001-003", "g-0001-001", 950, false)],
            [new Promote("g-0001-003", "g-0001-001")] },
        { "once promoted, the other replicas follow it and the lost node is replaced in its zone", Group(nodes: Decided), Zones,
            [Gone("g-0001-001", ContainerState.Missing), Replica("g-0001-002", "g-0001-001", 900, false), Primary("g-0001-003")],
            [new ReplicateFrom("g-0001-002", "g-0001-003"), new ReplaceNode("g-0001-001", "az-a")] },
        { "a zone down past the grace gets no replacement; the emptiest other zone does", Group(nodes: Decided), new(["az-a", "az-b", "az-c", "az-d"], new HashSet<string> { "az-a" }),
            [Gone("g-0001-001", ContainerState.ZoneUnreachable), Replica("g-0001-002", "g-0001-003", 900), Primary("g-0001-003")],
            [new ReplaceNode("g-0001-001", "az-d")] },
        { "without automatic failover the primary is replaced and its data is lost", Group(false, nodes: PrimaryFailed), Zones,
            [Gone("g-0001-001"), Replica("g-0001-002", "g-0001-001", 900, false), Replica("g-0001-003", "g-0001-001", 950, false)],
            [new ReplaceNode("g-0001-001", "az-a", AsPrimary: true, DataLost: true)] },
        { "without a replica the primary is replaced and its data is lost", Group(nodes: [Node("g-0001-001", NodeRole.Primary, "az-a", NodeStatus.Failed)]), Zones,
            [Gone("g-0001-001")],
            [new ReplaceNode("g-0001-001", "az-a", AsPrimary: true, DataLost: true)] },
        { "a dead replica is reported, then replaced", Group(nodes: Healthy), Zones,
            [Primary("g-0001-001"), Gone("g-0001-002"), Replica("g-0001-003", "g-0001-001", 950)],
            [new MarkNode("g-0001-002", NodeStatus.Failed, NodeRole.Replica)] },
        { "a failed replica is fenced and replaced", Group(nodes: [Healthy[0], Node("g-0001-002", NodeRole.Replica, "az-b", NodeStatus.Failed), Healthy[2]]), Zones,
            [Primary("g-0001-001"), Gone("g-0001-002", ContainerState.Missing), Replica("g-0001-003", "g-0001-001", 950)],
            [new ReplaceNode("g-0001-002", "az-b")] },
        { "a failed replica that answers again is kept: it joins again, a copy rather than an empty replacement", Group(nodes: [Healthy[0], Node("g-0001-002", NodeRole.Replica, "az-b", NodeStatus.Failed), Healthy[2]]), Zones,
            [Primary("g-0001-001"), Replica("g-0001-002", "g-0001-001", 900), Replica("g-0001-003", "g-0001-001", 950)],
            [new MarkNode("g-0001-002", NodeStatus.Creating, NodeRole.Replica)] },
        { "a failed replica still silent is fenced before its replacement", Group(nodes: [Healthy[0], Node("g-0001-002", NodeRole.Replica, "az-b", NodeStatus.Failed), Healthy[2]]), Zones,
            [Primary("g-0001-001"), Silent("g-0001-002"), Replica("g-0001-003", "g-0001-001", 950)],
            [new RemoveContainer("g-0001-002")] },
        { "a failed old primary that answers as a primary is fenced, not kept", Group(nodes: Decided), Zones,
            [Primary("g-0001-001"), Replica("g-0001-002", "g-0001-003", 900), Primary("g-0001-003")],
            [new RemoveContainer("g-0001-001")] },
        { "a primary restarted empty is never left primary over replicas with data: failed over to the best at once", Group(nodes: Healthy), Zones,
            [Primary("g-0001-001", offset: 0), Replica("g-0001-002", "g-0001-001", 900, link: false), Replica("g-0001-003", "g-0001-001", 950, link: false)],
            [new MarkNode("g-0001-001", NodeStatus.Failed, NodeRole.Primary), new Failover("0001", "g-0001-001", "g-0001-003")] },
        { "a new replica that holds no key yet is not evidence that its primary lost data, whatever offset it counts", Group(nodes: Healthy), Zones,
            [Primary("g-0001-001", offset: 0), Replica("g-0001-002", "g-0001-001", 1, link: false) with { Keys = 0 }, Replica("g-0001-003", "g-0001-001", 1, link: false) with { Keys = 0 }],
            [new Wait("node g-0001-002 is syncing from g-0001-001"), new Wait("node g-0001-003 is syncing from g-0001-001")] },
        { "a remembered primary offset behind the replicas' is a missed probe, not an empty restart", Group(nodes: Healthy), Zones,
            [Primary("g-0001-001", offset: 0) with { Stale = true }, Replica("g-0001-002", "g-0001-001", 900, link: false), Replica("g-0001-003", "g-0001-001", 950, link: false)],
            [new Wait("node g-0001-002 is syncing from g-0001-001"), new Wait("node g-0001-003 is syncing from g-0001-001")] },
        { "a replica a little ahead of a busy primary's probe is no alarm while its link is up", Group(nodes: Healthy), Zones,
            [Primary("g-0001-001", offset: 900), Replica("g-0001-002", "g-0001-001", 905), Replica("g-0001-003", "g-0001-001", 950)],
            [] },
        { "a restarted replica rejoins as a replica of the current primary", Group(nodes: Healthy), Zones,
            [Primary("g-0001-001"), Primary("g-0001-002", offset: 0), Replica("g-0001-003", "g-0001-001", 950)],
            [new ReplicateFrom("g-0001-002", "g-0001-001")] },
        { "no probe answered yet since a restart is no evidence: nothing is failed, nothing rewired", Group(nodes: Healthy), Zones,
            [Unknown("g-0001-001"), Unknown("g-0001-002"), Replica("g-0001-003", "g-0001-001", 950)],
            [new Wait("node g-0001-001 has not answered a probe yet")] },
        { "a whole shard silent while its containers run is held, not failed over", Group(nodes: Healthy), Zones,
            [Silent("g-0001-001"), Silent("g-0001-002"), Silent("g-0001-003")],
            [new MarkGroup(GroupStatus.IncompatibleNetwork, "Replication group g is not available: the control plane cannot reach any node of node group(s) 0001")] },
        { "a held group that is not available yet keeps holding and says why", Group(nodes: Healthy) with { Status = GroupStatus.IncompatibleNetwork }, Zones,
            [Silent("g-0001-001"), Silent("g-0001-002"), Silent("g-0001-003")],
            [new Hold("Cache nodes g-0001-001, g-0001-002, g-0001-003 of node group 0001 stopped answering at once while their containers run; "
                + "this is more likely the control plane's own problem than theirs, so nothing is failed over or replaced until there is evidence")] },
        { "a group whose nodes answer again is available again", Group(nodes: Healthy) with { Status = GroupStatus.IncompatibleNetwork }, Zones,
            [Primary("g-0001-001"), Replica("g-0001-002", "g-0001-001", 1000), Replica("g-0001-003", "g-0001-001", 1000)],
            [new MarkGroup(GroupStatus.Available, "Replication group g is available again")] },
        { "a silent primary beside a replica that answers is failed", Group(nodes: Healthy), Zones,
            [Silent("g-0001-001"), Replica("g-0001-002", "g-0001-001", 900), Unknown("g-0001-003")],
            [new MarkNode("g-0001-001", NodeStatus.Failed, NodeRole.Primary)] },
        { "a silent shard in a zone down past the grace is held, not replaced empty: its data may come back with the zone", Group(nodes: [Node("g-0001-001", NodeRole.Primary, "az-a")]) with { Status = GroupStatus.IncompatibleNetwork }, new(["az-a", "az-b"], new HashSet<string> { "az-a" }),
            [Silent("g-0001-001") with { Container = ContainerState.ZoneUnreachable }],
            [new Hold("Cache node g-0001-001, the primary of node group 0001, stopped answering while its zone az-a is out of reach, "
                + "and no replica has synced its data: it is not replaced by an empty node while it may come back")] },
        { "a silent primary in a zone down past the grace is failed over to a replica elsewhere: nothing is lost", Group(nodes: Healthy), new(["az-a", "az-b", "az-c"], new HashSet<string> { "az-a" }),
            [Silent("g-0001-001") with { Container = ContainerState.ZoneUnreachable }, Replica("g-0001-002", "g-0001-001", 900, false), Replica("g-0001-003", "g-0001-001", 950, false)],
            [new MarkNode("g-0001-001", NodeStatus.Failed, NodeRole.Primary), new Failover("0001", "g-0001-001", "g-0001-003")] },
        { "a failed primary out of reach with no replica left is held, not replaced empty", Group(nodes: [Node("g-0001-001", NodeRole.Primary, "az-a", NodeStatus.Failed)]) with { Status = GroupStatus.IncompatibleNetwork }, new(["az-a", "az-b"], new HashSet<string> { "az-a" }),
            [Silent("g-0001-001") with { Container = ContainerState.ZoneUnreachable }],
            [new Hold("Cache node g-0001-001, the primary of node group 0001, does not answer while its zone az-a is out of reach, "
                + "and no replica holds its data: it is not replaced by an empty node while it may come back")] },
        { "a failed primary with no replica left that answers again as the primary is the primary again", Group(nodes: [Node("g-0001-001", NodeRole.Primary, "az-a", NodeStatus.Failed)]), Zones,
            [Primary("g-0001-001")],
            [new MarkNode("g-0001-001", NodeStatus.Available, NodeRole.Primary)] },
        { "a primary gone beside a silent replica is not replaced empty: the replica may hold the data", Group(nodes: PrimaryFailed) with { Status = GroupStatus.IncompatibleNetwork }, Zones,
            [Gone("g-0001-001"), Silent("g-0001-002"), Silent("g-0001-003")],
            [new Wait("replica g-0001-002 does not answer but may hold the data of node group 0001; it is not replaced empty")] },
        { "a primary gone beside a replica failed while out of reach waits for it: it may hold the data", Group(nodes: [PrimaryFailed[0], Node("g-0001-002", NodeRole.Replica, "az-b", NodeStatus.Failed)]) with { Status = GroupStatus.IncompatibleNetwork }, Zones,
            [Gone("g-0001-001"), Silent("g-0001-002") with { Container = ContainerState.ZoneUnreachable }],
            [new Wait("replica g-0001-002 does not answer but may hold the data of node group 0001; it is not replaced empty")] },
        { "a primary gone beside a failed replica that answers again makes it a candidate again, not fenced", Group(nodes: [PrimaryFailed[0], Node("g-0001-002", NodeRole.Replica, "az-b", NodeStatus.Failed)]) with { Status = GroupStatus.IncompatibleNetwork }, Zones,
            [Gone("g-0001-001"), Replica("g-0001-002", "g-0001-001", 900, false)],
            [new MarkNode("g-0001-002", NodeStatus.Available, NodeRole.Replica)] },
        { "a primary gone beside a replacement that does not answer waits for it: it may have synced", Group(nodes: [PrimaryFailed[0], Node("g-0001-002", NodeRole.Replica, "az-b", NodeStatus.Creating)]) with { Status = GroupStatus.IncompatibleNetwork }, Zones,
            [Gone("g-0001-001"), Silent("g-0001-002")],
            [new Wait("replica g-0001-002 does not answer but may hold the data of node group 0001; it is not replaced empty")] },
        { "a primary gone beside a replacement that answers with the keys makes it a candidate", Group(nodes: [PrimaryFailed[0], Node("g-0001-002", NodeRole.Replica, "az-b", NodeStatus.Creating)]) with { Status = GroupStatus.IncompatibleNetwork }, Zones,
            [Gone("g-0001-001"), Replica("g-0001-002", "g-0001-001", 900, false) with { Keys = 1000 }],
            [new MarkNode("g-0001-002", NodeStatus.Available, NodeRole.Replica)] },
        { "a primary gone beside a replacement that answers empty is replaced empty: nothing is left to wait for", Group(nodes: [PrimaryFailed[0], Node("g-0001-002", NodeRole.Replica, "az-b", NodeStatus.Creating)]) with { Status = GroupStatus.IncompatibleNetwork }, Zones,
            [Gone("g-0001-001"), Replica("g-0001-002", "g-0001-001", 0, false) with { Keys = 0 }],
            [new ReplaceNode("g-0001-001", "az-a", AsPrimary: true, DataLost: true)] },
        { "a replica its primary does not list online is not taken for synced", Group(nodes: Healthy) with { Status = GroupStatus.Creating }, Zones,
            [Primary("g-0001-001"), Replica("g-0001-002", "g-0001-001", 0) with { Lagging = true }, Replica("g-0001-003", "g-0001-001", 1000)],
            [new Wait("node g-0001-002 is syncing from g-0001-001")] },
        { "a test failover is taken like a failure of the primary", Group(tests: new HashSet<string> { "0001" }, nodes: Healthy), Zones,
            [Primary("g-0001-001"), Replica("g-0001-002", "g-0001-001", 900), Replica("g-0001-003", "g-0001-001", 950)],
            [new StartTestFailover("0001", "g-0001-001")] },
    };

    [Theory]
    [MemberData(nameof(Rows))]
    public void Cluster_mode_disabled(string name, DesiredGroup group, PlanContext context, ObservedNode[] observed, NodeAction[] expected)
    {
        var plan = Plan(group, context, observed);
        Assert.True(expected.SequenceEqual(plan), $"{name}: got {string.Join(", ", plan)}");
    }

    private static ObservedNode ClusterNode(string id, bool primary, string? master, IReadOnlySet<string> view, string? slots = null, bool ok = true) =>
        new(id, ContainerState.Running, Reachable: true, IsPrimary: primary, ClusterId: "cid-" + id,
            KnownNodeIds: new HashSet<string> { "g-0001-002", "g-0001-003", "g-0001-004" }, ClusterPrimaryNodeId: master, OwnedSlots: slots,
            ClusterStateOk: ok, ViewClusterIds: view, ClusterMasterId: master is null ? null : "cid-" + master);

    [Fact]
    public void Cluster_mode_enabled_takes_over_without_waiting_for_a_vote()
    {
        var group = Group(mode: ClusterMode.Enabled, nodes: Decided);
        var plan = Plan(group, Zones, Gone("g-0001-001", ContainerState.Missing),
            ClusterNode("g-0001-002", false, "g-0001-001", new HashSet<string>()), ClusterNode("g-0001-003", false, "g-0001-001", new HashSet<string>()));
        Assert.Equal([new ClusterTakeover("g-0001-003", "g-0001-001")], plan);
    }

    /// <summary>A cluster-mode-enabled shard of a primary (g-0001-003) and two replicas, one per zone.</summary>
    private static DesiredGroup ThreeNodeCluster => Group(mode: ClusterMode.Enabled,
        nodes: [Node("g-0001-002", NodeRole.Replica, "az-b"), Node("g-0001-003", NodeRole.Primary, "az-c"), Node("g-0001-004", NodeRole.Replica, "az-a")]);

    [Fact]
    public void Cluster_mode_enabled_forgets_the_dead_node_on_every_live_node_at_once()
    {
        var group = ThreeNodeCluster;
        var view = new HashSet<string> { "cid-g-0001-002", "cid-g-0001-003", "cid-g-0001-004", "cid-dead" };
        var plan = Plan(group, Zones,
            ClusterNode("g-0001-002", false, "g-0001-003", view), ClusterNode("g-0001-003", true, null, view, "0-16383"), ClusterNode("g-0001-004", false, "g-0001-003", view));
        Assert.Equal([new ClusterForget("g-0001-002", "cid-dead"), new ClusterForget("g-0001-003", "cid-dead"), new ClusterForget("g-0001-004", "cid-dead")], plan);
    }

    // The observer hands nodes that see the same one set: what one node may not do with it, another still does.
    [Fact]
    public void Cluster_mode_enabled_node_following_a_gone_primary_keeps_it_while_the_others_forget_it()
    {
        var group = ThreeNodeCluster;
        var view = new HashSet<string> { "cid-g-0001-002", "cid-g-0001-003", "cid-g-0001-004", "cid-dead" };
        var plan = Plan(group, Zones,
            ClusterNode("g-0001-002", false, "g-0001-003", view), ClusterNode("g-0001-003", true, null, view, "0-16383"),
            ClusterNode("g-0001-004", false, null, view) with { ClusterPrimaryNodeId = "cid-dead", ClusterMasterId = "cid-dead" });
        Assert.Equal([new ClusterReplicate("g-0001-004", "g-0001-003"), new ClusterForget("g-0001-002", "cid-dead"), new ClusterForget("g-0001-003", "cid-dead")], plan);
    }

    [Fact]
    public void Cluster_mode_enabled_waits_for_gossip_to_introduce_everyone_to_a_node_whose_view_differs()
    {
        var group = ThreeNodeCluster;
        var everyone = new HashSet<string> { "g-0001-002", "g-0001-003", "g-0001-004" };
        var view = new HashSet<string> { "cid-g-0001-002", "cid-g-0001-003", "cid-g-0001-004" };
        var plan = Plan(group, Zones,
            ClusterNode("g-0001-002", false, "g-0001-003", view) with { KnownNodeIds = everyone },
            ClusterNode("g-0001-003", true, null, view, "0-16383") with { KnownNodeIds = everyone },
            ClusterNode("g-0001-004", false, "g-0001-003", view) with { KnownNodeIds = new HashSet<string> { "g-0001-003", "g-0001-004" } });
        Assert.Equal([new Wait("gossip has not introduced every node to g-0001-004 yet")], plan);
    }

    [Fact]
    public void Memcached_node_lost_is_reported_then_replaced_in_its_zone()
    {
        var cluster = new DesiredCluster("m", CacheClusterStatus.Available,
            [new DesiredNode("m-0001", null, NodeRole.Primary, "az-a", NodeStatus.Available, 7001), new DesiredNode("m-0002", null, NodeRole.Primary, "az-b", NodeStatus.Available, 7002)]);
        var observed = new Dictionary<string, ObservedNode> { ["m-0001"] = Primary("m-0001"), ["m-0002"] = Gone("m-0002") };
        Assert.Equal([new MarkNode("m-0002", NodeStatus.Failed, NodeRole.Primary)], MemcachedPlanner.Plan(cluster, observed, Zones, Clock.Now));
        var failed = cluster with { Nodes = [cluster.Nodes[0], cluster.Nodes[1] with { Status = NodeStatus.Failed }] };
        Assert.Equal([new ReplaceNode("m-0002", "az-b")], MemcachedPlanner.Plan(failed, observed, Zones, Clock.Now));
    }

    [Fact]
    public void Memcached_cluster_whose_nodes_all_fall_silent_is_held_and_not_available()
    {
        var cluster = new DesiredCluster("m", CacheClusterStatus.Available,
            [new DesiredNode("m-0001", null, NodeRole.Primary, "az-a", NodeStatus.Available, 7001), new DesiredNode("m-0002", null, NodeRole.Primary, "az-b", NodeStatus.Available, 7002)]);
        var observed = new Dictionary<string, ObservedNode> { ["m-0001"] = Silent("m-0001"), ["m-0002"] = Silent("m-0002") };
        Assert.Equal([new MarkGroup(GroupStatus.IncompatibleNetwork, "Cache cluster m is not available: the control plane cannot reach any of its nodes")],
            MemcachedPlanner.Plan(cluster, observed, Zones, Clock.Now));
        var held = MemcachedPlanner.Plan(cluster with { Status = CacheClusterStatus.IncompatibleNetwork }, observed, Zones, Clock.Now);
        Assert.IsType<Hold>(Assert.Single(held));
        observed["m-0001"] = Primary("m-0001");
        Assert.Equal([new MarkNode("m-0002", NodeStatus.Failed, NodeRole.Primary)], MemcachedPlanner.Plan(cluster with { Status = CacheClusterStatus.IncompatibleNetwork }, observed, Zones, Clock.Now));
    }
}
