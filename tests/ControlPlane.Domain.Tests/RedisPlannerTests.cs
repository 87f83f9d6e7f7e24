using ControlPlane.Domain;
using ControlPlane.Domain.Planning;

namespace ControlPlane.Domain.Tests;

/// <summary>The Redis planner as a pure function: a stored group and an observation in, the next steps out.</summary>
public sealed class RedisPlannerTests
{
    private static DesiredGroup Cmd(GroupStatus status = GroupStatus.Creating, NodeStatus nodes = NodeStatus.Creating, bool ports = true) =>
        new("g", ClusterMode.Disabled, status,
        [
            new DesiredShard("0001", "0-16383", ShardStatus.Creating,
            [
                new DesiredNode("g-0001-001", "0001", NodeRole.Primary, "az-a", nodes, ports ? 7001 : null),
                new DesiredNode("g-0001-002", "0001", NodeRole.Replica, "az-b", nodes, ports ? 7002 : null),
            ]),
        ]);

    private static DesiredGroup Cme(GroupStatus status = GroupStatus.Creating) =>
        new("c", ClusterMode.Enabled, status,
        [
            new DesiredShard("0001", "0-8191", ShardStatus.Creating,
                [new DesiredNode("c-0001-001", "0001", NodeRole.Primary, "az-a", NodeStatus.Creating, 7001), new DesiredNode("c-0001-002", "0001", NodeRole.Replica, "az-b", NodeStatus.Creating, 7002)]),
            new DesiredShard("0002", "8192-16383", ShardStatus.Creating,
                [new DesiredNode("c-0002-001", "0002", NodeRole.Primary, "az-b", NodeStatus.Creating, 7003), new DesiredNode("c-0002-002", "0002", NodeRole.Replica, "az-a", NodeStatus.Creating, 7004)]),
        ]);

    private static readonly string[] CmeIds = ["c-0001-001", "c-0001-002", "c-0002-001", "c-0002-002"];

    private static ObservedNode Up(string id, bool primary = true, string? of = null, bool link = true) =>
        new(id, ContainerState.Running, Reachable: true, IsPrimary: primary, PrimaryNodeId: of, LinkUp: link);

    private static ObservedNode ClusterNode(string id, bool primary, string? slots = null, string? master = null, bool ok = true, string[]? knows = null) =>
        new(id, ContainerState.Running, Reachable: true, IsPrimary: primary, ClusterId: "cid-" + id,
            KnownNodeIds: (knows ?? CmeIds).ToHashSet(), ClusterPrimaryNodeId: master, OwnedSlots: slots, ClusterStateOk: ok);

    private static Dictionary<string, ObservedNode> Seen(params ObservedNode[] nodes) => nodes.ToDictionary(n => n.NodeId);

    private static IReadOnlyList<NodeAction> Plan(DesiredGroup group, params ObservedNode[] nodes) => RedisPlanner.Plan(group, Seen(nodes), null, Clock.Now);

    public static TheoryData<string, DesiredGroup, ObservedNode[], NodeAction[]> CmdRows => new()
    {
        { "ports first", Cmd(ports: false), [], [new AllocatePort("g-0001-001"), new AllocatePort("g-0001-002")] },
        { "start missing containers", Cmd(), [], [new StartContainer("g-0001-001"), new StartContainer("g-0001-002")] },
        { "outdated container is replaced", Cmd(), [new ObservedNode("g-0001-001", ContainerState.Outdated), Up("g-0001-002", false, "g-0001-001")], [new RemoveContainer("g-0001-001")] },
        { "wait for a starting node", Cmd(), [Up("g-0001-001"), new ObservedNode("g-0001-002", ContainerState.Running)], [new Wait("node g-0001-002 is starting")] },
        { "a node that exits while creating fails the create", Cmd(), [Up("g-0001-001"), new ObservedNode("g-0001-002", ContainerState.Exited, ExitCode: 1)], [new Fail("Node g-0001-002 exited with code 1 while starting")] },
        { "replica is pointed at the primary", Cmd(), [Up("g-0001-001"), Up("g-0001-002")], [new ReplicateFrom("g-0001-002", "g-0001-001")] },
        { "replica of the wrong node is repointed", Cmd(), [Up("g-0001-001"), Up("g-0001-002", false, "elsewhere")], [new ReplicateFrom("g-0001-002", "g-0001-001")] },
        { "wait while the replica syncs", Cmd(), [Up("g-0001-001"), Up("g-0001-002", false, "g-0001-001", link: false)], [new Wait("node g-0001-002 is syncing from g-0001-001")] },
        { "wired group becomes available", Cmd(), [Up("g-0001-001"), Up("g-0001-002", false, "g-0001-001")],
            [new MarkNode("g-0001-001", NodeStatus.Available, NodeRole.Primary), new MarkNode("g-0001-002", NodeStatus.Available, NodeRole.Replica),
             new MarkShard("0001", ShardStatus.Available), new MarkGroup(GroupStatus.Available, "Replication group g created")] },
        { "a converged group needs nothing", Cmd(GroupStatus.Available, NodeStatus.Available) with { Shards = [Cmd().Shards[0] with { Status = ShardStatus.Available, Nodes = Cmd(nodes: NodeStatus.Available).Shards[0].Nodes }] },
            [Up("g-0001-001"), Up("g-0001-002", false, "g-0001-001")], [] },
        { "a dead node of an available group is reported failed", Cmd(GroupStatus.Available, NodeStatus.Available),
            [Up("g-0001-001"), new ObservedNode("g-0001-002", ContainerState.Exited, ExitCode: 137)], [new MarkNode("g-0001-002", NodeStatus.Failed, NodeRole.Replica)] },
        { "a hung node of an available group is reported failed", Cmd(GroupStatus.Available, NodeStatus.Available),
            [Up("g-0001-001"), new ObservedNode("g-0001-002", ContainerState.Running, Reachable: false)], [new MarkNode("g-0001-002", NodeStatus.Failed, NodeRole.Replica)] },
        { "delete removes containers first", Cmd(GroupStatus.Deleting), [Up("g-0001-001"), new ObservedNode("g-0001-002", ContainerState.Exited)], [new RemoveContainer("g-0001-001"), new RemoveContainer("g-0001-002")] },
        { "delete releases everything once no container is left", Cmd(GroupStatus.Deleting), [], [new ReleaseAll()] },
        { "a delete with a final snapshot takes it before anything is removed", Cmd(GroupStatus.Deleting) with { FinalSnapshot = "last" },
            [Up("g-0001-001"), Up("g-0001-002", false, "g-0001-001")], [new TakeFinalSnapshot("last")] },
        { "a failed create is left alone", Cmd(GroupStatus.CreateFailed), [], [] },
    };

    [Theory]
    [MemberData(nameof(CmdRows))]
    public void Cluster_mode_disabled(string name, DesiredGroup group, ObservedNode[] observed, NodeAction[] expected) =>
        Assert.True(expected.SequenceEqual(Plan(group, observed)), $"{name}: got {string.Join(", ", Plan(group, observed))}");

    private static readonly string[] Alone = [];

    public static TheoryData<string, ObservedNode[], NodeAction[]> CmeRows => new()
    {
        { "wait for cluster ids", [ClusterNode("c-0001-001", true), new ObservedNode("c-0001-002", ContainerState.Running, Reachable: true), ClusterNode("c-0002-001", true), ClusterNode("c-0002-002", true)],
            [new Wait("node c-0001-002 has no cluster id yet")] },
        { "fresh primaries get distinct epochs and their slots before anyone meets",
            [ClusterNode("c-0001-001", true, knows: Alone), ClusterNode("c-0001-002", true, knows: Alone), ClusterNode("c-0002-001", true, knows: Alone) with { ConfigEpoch = 2 }, ClusterNode("c-0002-002", true, knows: Alone)],
            [new SetConfigEpoch("c-0001-001", 1), new AssignSlots("c-0001-001", "0-8191"), new AssignSlots("c-0002-001", "8192-16383")] },
        { "a slot a primary serves already is not assigned twice",
            [ClusterNode("c-0001-001", true, "0-8191,9000", knows: Alone) with { ConfigEpoch = 1 }, ClusterNode("c-0001-002", true, knows: Alone), ClusterNode("c-0002-001", true, "8192-8999", knows: Alone) with { ConfigEpoch = 2 }, ClusterNode("c-0002-002", true, knows: Alone)],
            [new AssignSlots("c-0002-001", "9001-16383")] },
        { "every node meets every primary, and replicas attach as soon as they know theirs",
            [ClusterNode("c-0001-001", true, "0-8191", knows: ["c-0001-001"]) with { ConfigEpoch = 1 }, ClusterNode("c-0001-002", true, knows: ["c-0001-002", "c-0001-001"]),
             ClusterNode("c-0002-001", true, "8192-16383", knows: ["c-0002-001"]) with { ConfigEpoch = 2 }, ClusterNode("c-0002-002", true, knows: ["c-0002-002"])],
            [new ClusterMeet("c-0001-001", "c-0002-001"), new ClusterMeet("c-0001-002", "c-0002-001"), new ClusterMeet("c-0002-001", "c-0001-001"),
             new ClusterMeet("c-0002-002", "c-0001-001"), new ClusterMeet("c-0002-002", "c-0002-001"), new ClusterReplicate("c-0001-002", "c-0001-001")] },
        { "wait for replicas to sync and cluster state ok",
            [ClusterNode("c-0001-001", true, "0-8191") with { ConfigEpoch = 1 }, ClusterNode("c-0001-002", false, master: "c-0001-001") with { LinkUp = false },
             ClusterNode("c-0002-001", true, "8192-16383") with { ConfigEpoch = 2 }, ClusterNode("c-0002-002", false, master: "c-0002-001", ok: false) with { LinkUp = true }],
            [new Wait("node c-0001-002 is syncing from c-0001-001"), new Wait("cluster_state is not ok on c-0002-002")] },
        { "wired cluster becomes available",
            [ClusterNode("c-0001-001", true, "0-8191") with { ConfigEpoch = 1 }, ClusterNode("c-0001-002", false, master: "c-0001-001") with { LinkUp = true },
             ClusterNode("c-0002-001", true, "8192-16383") with { ConfigEpoch = 2 }, ClusterNode("c-0002-002", false, master: "c-0002-001") with { LinkUp = true }],
            [new MarkNode("c-0001-001", NodeStatus.Available, NodeRole.Primary), new MarkNode("c-0001-002", NodeStatus.Available, NodeRole.Replica),
             new MarkNode("c-0002-001", NodeStatus.Available, NodeRole.Primary), new MarkNode("c-0002-002", NodeStatus.Available, NodeRole.Replica),
             new MarkShard("0001", ShardStatus.Available), new MarkShard("0002", ShardStatus.Available), new MarkGroup(GroupStatus.Available, "Replication group c created")] },
    };

    [Theory]
    [MemberData(nameof(CmeRows))]
    public void Cluster_mode_enabled(string name, ObservedNode[] observed, NodeAction[] expected) =>
        Assert.True(expected.SequenceEqual(Plan(Cme(), observed)), $"{name}: got {string.Join(", ", Plan(Cme(), observed))}");

    /// <summary>A replacement replica joins a cluster that serves: it is available once it synced, and not before (the failover rules take an available replica for a copy).</summary>
    [Fact]
    public void A_replacement_replica_in_a_cluster_is_available_only_once_it_synced()
    {
        var group = new DesiredGroup("c", ClusterMode.Enabled, GroupStatus.Available,
        [
            new DesiredShard("0001", "0-8191", ShardStatus.Available,
                [new DesiredNode("c-0001-001", "0001", NodeRole.Primary, "az-a", NodeStatus.Available, 7001), new DesiredNode("c-0001-002", "0001", NodeRole.Replica, "az-b", NodeStatus.Creating, 7002)]),
            new DesiredShard("0002", "8192-16383", ShardStatus.Available,
                [new DesiredNode("c-0002-001", "0002", NodeRole.Primary, "az-b", NodeStatus.Available, 7003), new DesiredNode("c-0002-002", "0002", NodeRole.Replica, "az-a", NodeStatus.Available, 7004)]),
        ]);
        ObservedNode[] Seen(bool synced) =>
        [
            ClusterNode("c-0001-001", true, "0-8191") with { ConfigEpoch = 1 }, ClusterNode("c-0001-002", false, master: "c-0001-001") with { LinkUp = synced },
            ClusterNode("c-0002-001", true, "8192-16383") with { ConfigEpoch = 2 }, ClusterNode("c-0002-002", false, master: "c-0002-001") with { LinkUp = true },
        ];

        Assert.Equal([new Wait("node c-0001-002 is syncing from c-0001-001")], Plan(group, Seen(synced: false)));
        Assert.Equal([new MarkNode("c-0001-002", NodeStatus.Available, NodeRole.Replica)], Plan(group, Seen(synced: true)));
    }
}
