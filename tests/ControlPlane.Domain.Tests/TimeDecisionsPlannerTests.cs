using ControlPlane.Domain;
using ControlPlane.Domain.Planning;

namespace ControlPlane.Domain.Tests;

/// <summary>
/// The decisions the planner takes from the desired state and the time besides the topology: the
/// create timeout, renewing nodes that run an outdated configuration (now or in the maintenance
/// window), a restore into another shard count, snapshots of a converged group, an unusable snapshot.
/// </summary>
public sealed class TimeDecisionsPlannerTests
{
    private static readonly DateTimeOffset Now = Clock.Now; // a Monday, 12:00 UTC
    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(5);
    private static readonly PlanContext Context = new(["az-a", "az-b"], new HashSet<string>()) { CreateTimeout = Timeout };

    private static DesiredGroup Group(GroupStatus status, NodeStatus nodes) =>
        new("g", ClusterMode.Disabled, status,
        [
            new DesiredShard("0001", "0-16383", nodes == NodeStatus.Available ? ShardStatus.Available : ShardStatus.Creating,
            [
                new DesiredNode("g-0001-001", "0001", NodeRole.Primary, "az-a", nodes, 7001),
                new DesiredNode("g-0001-002", "0001", NodeRole.Replica, "az-b", nodes, 7002),
            ]),
        ]);

    private static DesiredCluster Cluster(CacheClusterStatus status, NodeStatus nodes) =>
        new("m", status, [new DesiredNode("m-0001", null, NodeRole.Primary, "az-a", nodes, 7001), new DesiredNode("m-0002", null, NodeRole.Primary, "az-b", nodes, 7002)]);

    private static ObservedNode Up(string id, bool primary = true, string? of = null, ContainerState container = ContainerState.Running) =>
        new(id, container, Reachable: true, IsPrimary: primary, PrimaryNodeId: of, LinkUp: !primary);

    /// <summary>A healthy, wired group; the replica's container optionally outdated.</summary>
    private static Dictionary<string, ObservedNode> Healthy(bool outdatedReplica = false) => new()
    {
        ["g-0001-001"] = Up("g-0001-001"),
        ["g-0001-002"] = Up("g-0001-002", primary: false, of: "g-0001-001", container: outdatedReplica ? ContainerState.Outdated : ContainerState.Running),
    };

    private static MaintenanceWindow? Window(string? text)
    {
        if (text is null)
            return null;
        Assert.Null(MaintenanceWindow.TryParse(text, out var window));
        return window;
    }

    /// <summary>Actions as text: the refresh actions hold lists, which records do not compare by content.</summary>
    private static string Text(NodeAction action) => action switch
    {
        StartRefresh r => $"StartRefresh [{string.Join(", ", r.NodeIds)}]: {r.Message}",
        ScheduleRefresh s => $"ScheduleRefresh [{string.Join(", ", s.NodeIds)}] at {s.At:yyyy-MM-dd HH:mm}: {s.Message}",
        _ => action.ToString(),
    };

    private static string[] Texts(IEnumerable<NodeAction> plan) => plan.Select(Text).ToArray();

    // Created five minutes before the time given as minutes past it: the timeout is 5 minutes.
    public static TheoryData<string, double, bool, string[]> CreateTimeoutRows => new()
    {
        { "waiting inside the timeout waits", 4.99, true, ["Wait { Reason = node g-0001-002 is starting }"] },
        { "waiting exactly at the timeout still waits", 5, true, ["Wait { Reason = node g-0001-002 is starting }"] },
        { "waiting past the timeout fails the create, saying what it waited for", 5.01, true,
            ["Fail { Reason = Creation did not finish within 00:05:00: node g-0001-002 is starting }"] },
        { "long past the timeout, a create with a step to take takes it", 60, false, ["StartContainer { NodeId = g-0001-002 }"] },
    };

    [Theory]
    [MemberData(nameof(CreateTimeoutRows))]
    public void A_redis_create_fails_only_when_it_has_only_waited_past_the_timeout(string name, double minutes, bool secondStarted, string[] expected)
    {
        var group = Group(GroupStatus.Creating, NodeStatus.Creating) with { CreatedAt = Now.AddMinutes(-minutes) };
        var observed = new Dictionary<string, ObservedNode> { ["g-0001-001"] = Up("g-0001-001") };
        if (secondStarted)
            observed["g-0001-002"] = new ObservedNode("g-0001-002", ContainerState.Running);
        Assert.True(expected.SequenceEqual(Texts(RedisPlanner.Plan(group, observed, Context, Now))), $"{name}: got {string.Join("; ", Texts(RedisPlanner.Plan(group, observed, Context, Now)))}");
    }

    [Theory]
    [MemberData(nameof(CreateTimeoutRows))]
    public void A_memcached_create_fails_only_when_it_has_only_waited_past_the_timeout(string name, double minutes, bool secondStarted, string[] expected)
    {
        var cluster = Cluster(CacheClusterStatus.Creating, NodeStatus.Creating) with { CreatedAt = Now.AddMinutes(-minutes) };
        var observed = new Dictionary<string, ObservedNode> { ["m-0001"] = Up("m-0001") };
        if (secondStarted)
            observed["m-0002"] = new ObservedNode("m-0002", ContainerState.Running);
        var plan = Texts(MemcachedPlanner.Plan(cluster, observed, Context, Now));
        Assert.True(expected.Select(e => e.Replace("g-0001-002", "m-0002", StringComparison.Ordinal)).SequenceEqual(plan), $"{name}: got {string.Join("; ", plan)}");
    }

    [Fact]
    public void Without_a_create_timeout_a_create_waits_for_ever()
    {
        var group = Group(GroupStatus.Creating, NodeStatus.Creating) with { CreatedAt = Now.AddDays(-1) };
        var observed = new Dictionary<string, ObservedNode> { ["g-0001-001"] = Up("g-0001-001"), ["g-0001-002"] = new("g-0001-002", ContainerState.Running) };
        Assert.Equal([new Wait("node g-0001-002 is starting")], RedisPlanner.Plan(group, observed, Context with { CreateTimeout = null }, Now));
    }

    // Now is Monday 12:00 UTC.
    public static TheoryData<string, string?, bool, string[]> RefreshRows => new()
    {
        { "without a window the outdated node is replaced at once", null, false,
            ["StartRefresh [g-0001-002]: Replacing cache nodes g-0001-002: they run an outdated configuration"] },
        { "inside the window it is replaced at once", "mon:11:00-mon:13:00", false,
            ["StartRefresh [g-0001-002]: Replacing cache nodes g-0001-002: they run an outdated configuration"] },
        { "inside the window, with something else scheduled, it is replaced at once", "mon:11:00-mon:13:00", true,
            ["StartRefresh [g-0001-002]: Replacing cache nodes g-0001-002: they run an outdated configuration"] },
        { "outside the window it is scheduled for the window's next start", "tue:03:00-tue:04:00", false,
            ["ScheduleRefresh [g-0001-002] at 2026-12-01 03:00: Cache nodes g-0001-002 run an outdated configuration; replacing them waits for the maintenance window at 2026-12-01 03:00 UTC"] },
        { "a window that just closed waits a week", "mon:10:00-mon:12:00", false,
            ["ScheduleRefresh [g-0001-002] at 2026-12-07 10:00: Cache nodes g-0001-002 run an outdated configuration; replacing them waits for the maintenance window at 2026-12-07 10:00 UTC"] },
        { "outside the window, once scheduled, nothing more is done: the node serves as it is", "tue:03:00-tue:04:00", true, [] },
    };

    [Theory]
    [MemberData(nameof(RefreshRows))]
    public void Outdated_redis_nodes_are_replaced_in_the_maintenance_window(string name, string? window, bool scheduled, string[] expected)
    {
        var group = Group(GroupStatus.Available, NodeStatus.Available) with
        {
            Window = Window(window),
            Scheduled = scheduled ? new PendingChanges { NodeType = "cache.large" } : null,
        };
        var plan = Texts(RedisPlanner.Plan(group, Healthy(outdatedReplica: true), Context, Now));
        Assert.True(expected.SequenceEqual(plan), $"{name}: got {string.Join("; ", plan)}");
    }

    [Theory]
    [MemberData(nameof(RefreshRows))]
    public void Outdated_memcached_nodes_are_rebooted_in_the_maintenance_window(string name, string? window, bool scheduled, string[] expected)
    {
        var cluster = Cluster(CacheClusterStatus.Available, NodeStatus.Available) with
        {
            Window = Window(window),
            Scheduled = scheduled ? new PendingChanges { NodeType = "cache.large" } : null,
        };
        var observed = new Dictionary<string, ObservedNode> { ["m-0001"] = Up("m-0001"), ["m-0002"] = Up("m-0002", container: ContainerState.Outdated) };
        var plan = Texts(MemcachedPlanner.Plan(cluster, observed, Context, Now));
        var rebooting = expected.Select(e => e.Replace("g-0001-002", "m-0002", StringComparison.Ordinal)
            .Replace("Replacing", "Rebooting", StringComparison.Ordinal).Replace("replacing", "rebooting", StringComparison.Ordinal));
        Assert.True(rebooting.SequenceEqual(plan), $"{name}: got {string.Join("; ", plan)}");
    }

    [Theory]
    [InlineData(GroupStatus.Modifying)]
    [InlineData(GroupStatus.Snapshotting)]
    public void A_group_busy_with_something_else_renews_no_outdated_node(GroupStatus status)
    {
        var plan = RedisPlanner.Plan(Group(status, NodeStatus.Available), Healthy(outdatedReplica: true), Context, Now);
        Assert.DoesNotContain(plan, a => a is StartRefresh or ScheduleRefresh);
    }

    public static TheoryData<string, GroupStatus, int?, string[]> ConvergedRows => new()
    {
        { "a create becomes available", GroupStatus.Creating, null,
            ["MarkGroup { Status = Available, Message = Replication group g created }"] },
        { "a restore into another shard count goes on to reshard", GroupStatus.Creating, 3,
            ["MarkGroup { Status = Modifying, Message = Replication group g created from snapshot snap; its keys now move onto 3 shard(s) }"] },
        { "a converged snapshotting group takes its snapshots", GroupStatus.Snapshotting, null, ["TakeSnapshots { }"] },
        { "a converged available group does nothing", GroupStatus.Available, null, [] },
    };

    [Theory]
    [MemberData(nameof(ConvergedRows))]
    public void A_converged_group_settles_by_what_it_was_asked(string name, GroupStatus status, int? restoredOnto, string[] expected)
    {
        var group = Group(status, status == GroupStatus.Creating ? NodeStatus.Creating : NodeStatus.Available) with
        {
            RestoreFromSnapshot = restoredOnto is null ? null : "snap",
            Pending = restoredOnto is { } shards ? new PendingChanges { NumShards = shards } : null,
        };
        var plan = Texts(RedisPlanner.Plan(group, Healthy(), Context, Now).Where(a => a is not (MarkNode or MarkShard)));
        Assert.True(expected.SequenceEqual(plan), $"{name}: got {string.Join("; ", plan)}");
    }

    [Fact]
    public void A_snapshotting_group_heals_before_it_takes_snapshots()
    {
        var observed = Healthy();
        observed["g-0001-002"] = new ObservedNode("g-0001-002", ContainerState.Exited, ExitCode: 137);
        Assert.Equal([new MarkNode("g-0001-002", NodeStatus.Failed, NodeRole.Replica)], RedisPlanner.Plan(Group(GroupStatus.Snapshotting, NodeStatus.Available), observed, Context, Now));
    }

    [Fact]
    public void A_create_from_a_snapshot_that_fails_its_checks_fails()
    {
        var group = Group(GroupStatus.Creating, NodeStatus.Creating) with { RestoreFromSnapshot = "snap", CreatedAt = Now };
        Assert.Equal([new Fail("Snapshot snap cannot be restored: shard 0001's file does not match its checksum")],
            RedisPlanner.Plan(group, new Dictionary<string, ObservedNode>(), Context with { RestoreProblem = "shard 0001's file does not match its checksum" }, Now));
    }
}
