using System.Text.Json;
using ControlPlane.Api.Data;
using ControlPlane.Api.Engines;
using ControlPlane.Api.Monitoring;
using ControlPlane.Api.Options;
using ControlPlane.Api.Snapshots;
using ControlPlane.Domain;
using ControlPlane.Domain.Planning;
using Docker.DotNet;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Npgsql;

namespace ControlPlane.Api.Reconciliation;

/// <summary>
/// Converges one group or cluster: observe, plan (pure), act, and again, until the plan is empty,
/// only waits past this pass's budget, or fails the create. Holds a Postgres advisory lock on the
/// group meanwhile, so only one actor changes it even with several control-plane processes.
/// </summary>
public sealed partial class Converger(
    IServiceScopeFactory scopes,
    ZoneRegistry zones,
    NodeSpecs specs,
    PortAllocator ports,
    Observer observer,
    GroupEndpoints endpoints,
    WarmPool pool,
    IRedisAdmin redis,
    ISlotMover mover,
    SnapshotTaker snapshots,
    ControlPlaneMetrics metrics,
    Parameters.ParameterApplier parameters,
    Security.ClientAccessApplier clientAccess,
    Discovery.DiscoveryEndpoints discovery,
    NodeReboots reboots,
    Security.Tls.TransitEncryption transit,
    TimeProvider time,
    IOptions<ControlPlaneOptions> options,
    ILogger<Converger> logger)
{
    private static readonly TimeSpan WaitStep = TimeSpan.FromMilliseconds(50);

    /// <summary>How long one act moves slots before the group is observed again (a failure then is handled within this).</summary>
    private static readonly TimeSpan MoveBudget = TimeSpan.FromSeconds(2);

    /// <summary>Failed slot-moving acts in a row (the engines refusing, e.g. out of memory) after which a reshard is given up.</summary>
    private const int MoveAttempts = 5;

    /// <summary>How long a planned switchover may take before it counts as failed.</summary>
    private static readonly TimeSpan SwitchoverTimeout = TimeSpan.FromSeconds(15);

    private ReconcilerOptions Settings => options.Value.Reconciler;
    private readonly NodeReboots _reboots = reboots;
    private TimeProvider Time => time;
    private PortAllocator Ports => ports;
    private ZoneRegistry Zones => zones;
    private ILogger Logger => logger;
    private NodeSpecs Specs => specs;
    private Observer Observer => observer;
    private IRedisAdmin Redis => redis;
    private ISlotMover Mover => mover;
    private ControlPlaneMetrics Metrics => metrics;
    private Security.Tls.TransitEncryption Transit => transit;

    /// <summary>
    /// Converges the group as far as this pass goes. Returns the nodes to watch when it ended with
    /// nothing to do at all (every node answering, nothing pending): until something wakes the
    /// reconciler, a heartbeat of those nodes stands in for the whole observation. Null otherwise.
    /// </summary>
    public async Task<QuietGroup?> ConvergeAsync(Target target, ContainerView view, CancellationToken ct)
    {
        await specs.LoadSecretsAsync(ct);
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<ControlPlaneDbContext>();
        await using var lease = await GroupLock.TryTakeAsync(db, target.Key, ct);
        if (lease is null)
            return null; // another control-plane process is on it
        // Every line logged while converging names the group (JSON logs show it as a field).
        using var logScope = logger.BeginScope(new Dictionary<string, object?> { ["group"] = target.Id, ["engine"] = target.Engine });

        var budgetEnds = time.GetUtcNow() + Settings.ConvergeBudget;
        while (true)
        {
            db.ChangeTracker.Clear();
            var step = target.Engine == Catalog.Redis
                ? await StepGroupAsync(db, target.Id, view, ct)
                : await StepClusterAsync(db, target.Id, view, ct);
            if (step.Progress == Progress.Done)
                return step.Quiet;
            // Only a change under way (a create, a delete) waits within the pass for nodes, sync and gossip;
            // a settled group that waits (on a failed node) is looked at again by the next pass, with a fresh listing.
            if (step.Progress == Progress.Settled || (step.Progress == Progress.Waiting && time.GetUtcNow() >= budgetEnds))
                return null;
            if (step.Progress == Progress.Waiting)
                await Task.Delay(WaitStep, time, ct);
        }
    }

    private enum Progress { Done, Acted, Waiting, Settled, Quiet }

    /// <summary>One step's outcome; Quiet is set when the plan was empty.</summary>
    private sealed record Step(Progress Progress, QuietGroup? Quiet = null)
    {
        public static implicit operator Step(Progress progress) => new(progress);
    }

    /// <summary>
    /// An empty plan ends the convergence. The group is quiet (watched by heartbeats alone) only when
    /// every node answered this observation: a node given the benefit of the doubt (stale, one miss
    /// short of failed) must be observed again by the next pass, or a heartbeat of the others would
    /// keep vouching for a group whose silent node nobody looks at.
    /// </summary>
    private static Step Ended(Progress progress, string engine, IReadOnlyList<NodePlace> places, IReadOnlyDictionary<string, ObservedNode> observed)
    {
        if (progress != Progress.Quiet)
            return progress;
        var watched = places.Where(p => p.Host is not null && p.Port is not null).ToList();
        if (watched.Any(p => observed.GetValueOrDefault(p.NodeId) is not { Reachable: true, Stale: false }))
            return new Step(Progress.Done);
        return new Step(Progress.Done, new QuietGroup(engine, watched.Select(p => new NodePlace(p.NodeId, p.Zone, p.Host, p.Port, null, p.ContainerName)).ToList()));
    }

    private async Task<Step> StepGroupAsync(ControlPlaneDbContext db, string id, ContainerView view, CancellationToken ct)
    {
        var group = await db.ReplicationGroups.Include(g => g.Shards).ThenInclude(s => s.Nodes).AsSplitQuery().FirstOrDefaultAsync(g => g.Id == id, ct);
        if (group is null)
            return Progress.Done;
        var cluster = group.ClusterMode == ClusterMode.Enabled;
        await pool.TakeAsync(db, group, view, ct);
        await db.SaveChangesAsync(ct);
        var creating = group.Status == GroupStatus.Creating;
        // A create from a snapshot checks every file against its checksum before anything starts,
        // and each new primary starts with its shard's file in place.
        var restore = creating && group.RestoreFromSnapshot is { } source
            ? await db.Snapshots.AsNoTracking().Include(s => s.Files).FirstOrDefaultAsync(s => s.Name == source, ct)
            : null;
        string? restoreProblem = null;
        if (creating && group.RestoreFromSnapshot is { } restoring && !_verified.ContainsKey((group.Id, restoring)))
        {
            restoreProblem = await snapshots.VerifyAsync(restore, restoring, ct);
            if (restoreProblem is null)
                _verified[(group.Id, restoring)] = true;
        }
        var nodes = group.Shards.SelectMany(s => s.Nodes).OrderBy(n => n.Id).ToList();
        await transit.PrepareAsync(db, group, nodes, view, ct);
        var parameterValues = await Parameters.ParameterGroups.ValuesAsync(db, group.ParameterGroupName, group.Engine, group.EngineVersion, cluster, ct);
        var startup = Domain.Parameters.ParameterCatalog.Startup(Catalog.Family(group.Engine, group.EngineVersion), parameterValues);
        var places = nodes.Select(n => new NodePlace(n.Id, n.AvailabilityZone, n.Host, n.Port,
            n.Port is { } p ? specs.Redis(group.Id, n.ShardId, n.Id, n.Host!, p, NodeVersion(group, n), n.NodeType, cluster, n.Engine, startup, transit.For(n)) with
            {
                Name = specs.ContainerName(n.PoolId ?? n.Id),
                Seeds = restore is not null && n.Role == NodeRole.Primary && snapshots.Seed(restore, group.Shards.First(s => s.Id == n.ShardId)) is { } seed ? [seed] : null,
            } : null,
            specs.ContainerName(n.PoolId ?? n.Id), n.PoolId is not null)).ToList();
        var observed = await observer.ObserveAsync(Catalog.Redis, cluster, creating, places, view, Settings, ct);
        if (await ListingContradictedAsync(places, observed, nodes.Where(n => n.Status == NodeStatus.Available).Select(n => n.Id), view, ct))
            return Progress.Acted;
        if (group.Status == GroupStatus.Deleting && group.FinalSnapshotName is { } final && !await FinalSnapshotTakenAsync(db, group, final, places, observed, ct))
            return Progress.Done;
        // Before anything is wired: a node serves clients only with the group's users (auth tokens, user group).
        var holdingUsers = group.Status != GroupStatus.Deleting ? await clientAccess.ApplyAsync(db, group, places, observed, view, ct) : new HashSet<string>();
        var outdatedNodes = observed.Values.Where(o => o.Container == ContainerState.Outdated).Select(o => o.NodeId).Order().ToList();
        if (group.Status == GroupStatus.Available && outdatedNodes.Count > 0 && RefreshWaits(group) is { } waitsUntil)
        {
            // Outside the maintenance window: the refresh is scheduled for it (once) and the group keeps serving as it is.
            if (group.ScheduledChanges is null)
            {
                group.ScheduledChanges = JsonSerializer.Serialize(new Dictionary<string, object> { [RefreshChange] = outdatedNodes });
                group.ScheduledAt = waitsUntil;
                db.Record(time, SourceType.ReplicationGroup, group.Id,
                    $"Cache nodes {string.Join(", ", outdatedNodes)} run an outdated configuration; replacing them waits for the maintenance window at {waitsUntil:yyyy-MM-dd HH:mm} UTC");
                await db.SaveChangesAsync(ct);
            }
        }
        else if (group.Status == GroupStatus.Available && outdatedNodes is { Count: > 0 } outdated)
        {
            // Nodes started by an older control plane (another command line) are replaced one by one,
            // as a node type change replaces them: new nodes sync, primaries hand over, nothing is lost.
            new GroupRecord(db, group, time).MarkGroup(GroupStatus.Modifying);
            group.PendingChanges = JsonSerializer.Serialize(new Dictionary<string, object> { [RefreshChange] = outdated });
            db.Record(time, SourceType.ReplicationGroup, group.Id, $"Replacing cache nodes {string.Join(", ", outdated)}: they run an outdated configuration");
            await db.SaveChangesAsync(ct);
            return Progress.Acted;
        }
        var testFailovers = await db.TestFailovers.Where(f => f.ReplicationGroupId == id && f.CompletedAt == null).Select(f => f.ShardId).ToListAsync(ct);
        var target = Target(group);
        var moves = target is { Reshard: true } || group.Shards.Any(s => s.Status == ShardStatus.Deleting)
            ? await db.SlotMoves.AsNoTracking().Where(m => m.ReplicationGroupId == id).Select(m => new SlotMove(m.Slot, m.FromShardId, m.ToShardId)).ToListAsync(ct)
            : [];
        var desired = new DesiredGroup(group.Id, group.ClusterMode, group.Status,
            group.Shards.OrderBy(s => s.Id).Select(s => new DesiredShard(s.Id, s.Slots, s.Status,
                s.Nodes.OrderBy(n => n.Id).Select(n => new DesiredNode(n.Id, n.ShardId, n.Role, n.AvailabilityZone, n.Status, n.Port, n.NodeType, $"{n.Engine} {NodeVersion(group, n)}")).ToList())).ToList(),
            group.AutomaticFailover, testFailovers.ToHashSet(), target, moves);
        var plan = restoreProblem is not null
            ? [new Fail($"Snapshot {group.RestoreFromSnapshot} cannot be restored: {restoreProblem}")]
            : GroupPlanner.Plan(desired, observed, Context(view));
        // Restored into the snapshot's shape, a group that asked for another shard count goes on to reshard.
        if (creating && group.PendingChanges is not null && plan.FirstOrDefault(a => a is MarkGroup { Status: GroupStatus.Available }) is MarkGroup created)
            plan = [.. plan.Where(a => a != created),
                new MarkGroup(GroupStatus.Modifying, $"{created.Message} from snapshot {group.RestoreFromSnapshot}; its keys now move onto {group.NumShards} shard(s)")];
        plan = await AwaitOnlineChangesAsync(db, group, nodes, holdingUsers, plan, view, ct);
        if (group.Status == GroupStatus.Snapshotting && plan.Count == 0)
        {
            await TakeSnapshotsAsync(db, group, places, observed, ct);
            return Progress.Acted;
        }
        var record = new GroupRecord(db, group, time);
        var becomesAvailable = plan.Any(a => a is MarkGroup { Status: GroupStatus.Available });
        if (!cluster && (becomesAvailable || group.Status is GroupStatus.Available or GroupStatus.Modifying or GroupStatus.Snapshotting or GroupStatus.IncompatibleNetwork))
        {
            // The endpoint is up before the group is called available, and follows every change after.
            await endpoints.EnsureAsync(db, group, view, wiredNow: creating && becomesAvailable, ct);
            await db.SaveChangesAsync(ct);
        }
        Func<Task> teardown = cluster ? () => Task.CompletedTask : () => endpoints.RemoveAsync(db, group.Id, view, ct);
        // Once a failover or switchover is stored, the endpoints forward to the new primary without waiting for the next step.
        Func<Task> rolesChanged = cluster ? () => Task.CompletedTask : () => endpoints.EnsureAsync(db, group, view, wiredNow: false, ct);
        // Not while a modification runs: it may need the engines as they are (new nodes keep the values
        // their command line gives them, and say applying, until the group is available again).
        if (group.Status is GroupStatus.Available or GroupStatus.Snapshotting)
            await parameters.ApplyAsync(db, group, parameterValues, view, ct);
        if (group.Status == GroupStatus.Available)
        {
            var speakingTls = nodes.Count(n => n.TransitEncryptionMode is not null);
            await TransitAsync(db, SourceType.ReplicationGroup, group.Id, () => transit.ConvergeAsync(db, group, nodes, view, ct), ct);
            // A step from plain text to TLS changes what the endpoint proxy's checks must speak: at once, not a pass later.
            if (!cluster && nodes.Count(n => n.TransitEncryptionMode is not null) != speakingTls)
                await endpoints.EnsureAsync(db, group, view, wiredNow: false, ct);
        }
        var primaries = group.Shards.Select(s => (s.Id, Primary: s.Nodes.FirstOrDefault(n => n.Role == NodeRole.Primary && n.Status == NodeStatus.Available)?.Id))
            .Where(p => p.Primary is not null).ToDictionary(p => p.Id, p => p.Primary!);
        // Work the API asked for joins the request's trace; what the control plane does on its own starts one.
        var traceParent = group.Status != GroupStatus.Available || testFailovers.Count > 0 ? group.TraceParent : null;
        var progress = await new Acts(this, db, view, places, observed, record, teardown, rolesChanged, ct, primaries, traceParent).RunAsync(plan, creating ? group.CreatedAt : null, group.Status is GroupStatus.Available or GroupStatus.IncompatibleNetwork);
        return Ended(progress, Catalog.Redis, places, observed);
    }

    /// <summary>
    /// A serving node whose container the pass's listing shows gone or exited, or that the listing
    /// shows running but that does not answer, is looked at once more before anything is decided: the
    /// listing may predate a container another actor started (this process's last convergence, another
    /// control plane), or the node's death. True when the listing was wrong; the view then knows
    /// better and the group is observed again. Once per node and pass.
    /// </summary>
    private async Task<bool> ListingContradictedAsync(IReadOnlyList<NodePlace> places, IReadOnlyDictionary<string, ObservedNode> observed,
        IEnumerable<string> serving, ContainerView view, CancellationToken ct)
    {
        var contradicted = false;
        // Gone per the listing, or running per the listing but not answering now (the listing may predate its death).
        bool Doubtful(ObservedNode o) => o.Gone || (o.Container == ContainerState.Running && (o.Stale || o.Unanswering));
        foreach (var place in places.Where(p => serving.Contains(p.NodeId) && Doubtful(observed[p.NodeId]) && !view.Confirmed(p.NodeId)))
        {
            var now = await zones[place.Zone].Runtime.FindAsync(place.ContainerName, ct);
            var state = now is null ? ContainerState.Missing : now.Running || now.State == "paused" ? ContainerState.Running : ContainerState.Exited;
            if (state != observed[place.NodeId].Container)
            {
                LogListingStale(logger, place.NodeId, state);
                contradicted = true;
            }
            view.Seen(place.NodeId, state, now?.ExitCode, now?.Id);
        }
        return contradicted;
    }

    /// <summary>When an outdated-node refresh of the group may start, if not now (its maintenance window is closed).</summary>
    private DateTimeOffset? RefreshWaits(ReplicationGroupEntity group)
    {
        if (group.PreferredMaintenanceWindow is not { } text || MaintenanceWindow.TryParse(text, out var window) is not null)
            return null;
        var now = time.GetUtcNow();
        var at = MaintenancePlanner.WhenToApply(window, now, applyImmediately: false);
        return at > now ? at : null;
    }

    /// <summary>The version a node runs: its own (rows from before per-node engines have none: the group's).</summary>
    private static string NodeVersion(ReplicationGroupEntity group, RedisNodeEntity node) => node.EngineVersion is { Length: > 0 } v ? v : group.EngineVersion;

    /// <summary>The pending change that replaces nodes running an outdated configuration (their ids).</summary>
    private const string RefreshChange = "outdatedNodes";

    /// <summary>The pending change that reboots the nodes named (their ids, each leaving the list once rebooted), see POST .../reboot.</summary>
    public const string RebootChange = "rebootNodes";

    /// <summary>The reason a group's nodes are held (not failed over) and that was told in an event, per group.</summary>
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, string> _held = new();

    /// <summary>Slot-moving acts that failed in a row, per group.</summary>
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, int> _moveFailures = new();

    /// <summary>Creates from a snapshot whose files were checked already (group id, snapshot name).</summary>
    private readonly System.Collections.Concurrent.ConcurrentDictionary<(string, string), bool> _verified = new();

    /// <summary>A group snapshotting and healthy: every snapshot it was asked for is taken, then it is available again.</summary>
    private async Task TakeSnapshotsAsync(ControlPlaneDbContext db, ReplicationGroupEntity group, IReadOnlyList<NodePlace> places,
        IReadOnlyDictionary<string, ObservedNode> observed, CancellationToken ct)
    {
        var pending = await db.Snapshots.Include(s => s.Files)
            .Where(s => s.ReplicationGroupId == group.Id && s.Status == SnapshotStatus.Creating && s.CopiedFrom == null).ToListAsync(ct);
        foreach (var snapshot in pending)
            await snapshots.TakeAsync(db, group, snapshot, places, observed, ct);
        new GroupRecord(db, group, time).MarkGroup(GroupStatus.Available);
        await db.SaveChangesAsync(ct);
    }

    /// <summary>
    /// A delete with a final snapshot takes it before anything is removed. When it cannot be taken the
    /// group is not deleted: it is available again, and the events say why. True when the teardown may go on.
    /// </summary>
    private async Task<bool> FinalSnapshotTakenAsync(ControlPlaneDbContext db, ReplicationGroupEntity group, string name,
        IReadOnlyList<NodePlace> places, IReadOnlyDictionary<string, ObservedNode> observed, CancellationToken ct)
    {
        var snapshot = await db.Snapshots.Include(s => s.Files).FirstOrDefaultAsync(s => s.Name == name, ct);
        if (snapshot is { Status: SnapshotStatus.Available })
            return true;
        if (snapshot is null)
        {
            snapshot = SnapshotEntity.Taking(group, name, SnapshotSource.Manual, time.GetUtcNow());
            db.Snapshots.Add(snapshot);
        }
        if (await snapshots.TakeAsync(db, group, snapshot, places, observed, ct))
        {
            await db.SaveChangesAsync(ct);
            return true;
        }
        new GroupRecord(db, group, time).MarkGroup(GroupStatus.Available);
        group.FinalSnapshotName = null;
        db.Record(time, SourceType.ReplicationGroup, group.Id, $"Final snapshot {name} failed; replication group {group.Id} was not deleted");
        await db.SaveChangesAsync(ct);
        return false;
    }

    /// <summary>What a modification under way asks of the topology: the stored shape, while changes are pending.</summary>
    private static GroupTarget? Target(ReplicationGroupEntity group)
    {
        if (group.Status != GroupStatus.Modifying || group.PendingChanges is not { } pending)
            return null;
        var fields = System.Text.Json.Nodes.JsonNode.Parse(pending)?.AsObject();
        var reshard = fields is not null && (fields.ContainsKey("numShards") || fields.ContainsKey("rebalance"));
        var reboot = fields?[RebootChange]?.AsArray().Select(n => (string)n!).ToHashSet();
        var upgrade = fields is not null && (fields.ContainsKey("engine") || fields.ContainsKey("engineVersion")) ? $"{group.Engine} {group.EngineVersion}" : null;
        return new GroupTarget(group.NumShards, group.ReplicasPerShard, group.NodeType, reshard, fields?.ContainsKey(RefreshChange) ?? false, reboot, upgrade);
    }

    private async Task<Step> StepClusterAsync(ControlPlaneDbContext db, string id, ContainerView view, CancellationToken ct)
    {
        var cluster = await db.CacheClusters.Include(c => c.Nodes).FirstOrDefaultAsync(c => c.Id == id, ct);
        if (cluster is null)
            return Progress.Done;
        var nodes = cluster.Nodes.OrderBy(n => n.Id).ToList();
        await transit.PrepareAsync(cluster, ct);
        var parameterValues = await Parameters.ParameterGroups.ValuesAsync(db, cluster.ParameterGroupName, cluster.Engine, cluster.EngineVersion, false, ct);
        var startup = Domain.Parameters.ParameterCatalog.Startup(Catalog.Family(cluster.Engine, cluster.EngineVersion), parameterValues);
        var places = nodes.Select(n => new NodePlace(n.Id, n.AvailabilityZone, n.Host, n.Port,
            n.Port is { } p ? specs.Memcached(cluster.Id, n.Id, n.Host!, p, cluster.EngineVersion, cluster.NodeType, startup, transit.For(cluster, n)) : null, specs.ContainerName(n.Id))).ToList();
        var creating = cluster.Status == CacheClusterStatus.Creating;
        var observed = await observer.ObserveAsync(Catalog.Memcached, false, creating, places, view, Settings, ct);
        if (await ListingContradictedAsync(places, observed, nodes.Where(n => n.Status == NodeStatus.Available).Select(n => n.Id), view, ct))
            return Progress.Acted;
        if (cluster.Status == CacheClusterStatus.Available && await RefreshClusterAsync(db, cluster, observed, ct))
            return Progress.Acted;
        var reboot = cluster.Status == CacheClusterStatus.Modifying && cluster.PendingChanges is { } pending
            ? System.Text.Json.Nodes.JsonNode.Parse(pending)?[RebootChange]?.AsArray().Select(n => (string)n!).ToHashSet() : null;
        var desired = new DesiredCluster(cluster.Id, cluster.Status,
            nodes.Select(n => new DesiredNode(n.Id, null, NodeRole.Primary, n.AvailabilityZone, n.Status, n.Port)).ToList(), reboot);
        var plan = GroupPlanner.Plan(desired, observed, Context(view));
        if (cluster.Status is CacheClusterStatus.Available or CacheClusterStatus.Modifying)
            await parameters.MarkAsync(db, cluster, parameterValues, view, ct);
        if (cluster.Status == CacheClusterStatus.Available)
            await TransitAsync(db, SourceType.CacheCluster, cluster.Id, () => transit.ConvergeAsync(db, cluster, ct), ct);
        // Leased while the cluster is created, so that its record does not change under a client once it is available.
        if (cluster.Status is CacheClusterStatus.Creating or CacheClusterStatus.Available or CacheClusterStatus.Modifying)
            await discovery.EnsureAsync(db, cluster, ct);
        var record = new ClusterRecord(db, cluster, time);
        var traceParent = cluster.Status != CacheClusterStatus.Available ? cluster.TraceParent : null;
        var progress = await new Acts(this, db, view, places, observed, record, () => discovery.RemoveAsync(db, cluster.Id, ct), () => Task.CompletedTask, ct, traceParent: traceParent)
            .RunAsync(plan, creating ? cluster.CreatedAt : null, cluster.Status is CacheClusterStatus.Available or CacheClusterStatus.IncompatibleNetwork);
        return Ended(progress, Catalog.Memcached, places, observed);
    }

    /// <summary>Transit encryption's online steps and renewals: a node that fails one is tried again at the next pass, and the group goes on meanwhile.</summary>
    private async Task TransitAsync(ControlPlaneDbContext db, SourceType source, string id, Func<Task<IReadOnlyList<string>>> step, CancellationToken ct)
    {
        try
        {
            foreach (var message in await step())
                db.Record(time, source, id, message);
            await db.SaveChangesAsync(ct);
        }
        catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
        {
            LogTransitFailed(logger, id, e.Message);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Transit encryption of {Id} did not converge this pass: {Reason}")]
    private static partial void LogTransitFailed(ILogger logger, string id, string reason);

    private PlanContext Context(ContainerView view) => new(zones.All.Select(z => z.Name).OrderBy(z => z).ToList(), view.ZonesDown, view.ZonesUnreachable);

    /// <summary>Records a failed attempt as an event, once, so a broken group is visible without flooding the log.</summary>
    public async Task RecordFailureAsync(Target target, int failures, CancellationToken ct)
    {
        if (failures != 1 && failures % 10 != 0)
            return;
        try
        {
            await using var scope = scopes.CreateAsyncScope();
            var db = scope.ServiceProvider.GetRequiredService<ControlPlaneDbContext>();
            db.Record(time, target.Engine == Catalog.Redis ? SourceType.ReplicationGroup : SourceType.CacheCluster, target.Id,
                $"Reconciliation attempt {failures} failed and will be retried");
            await db.SaveChangesAsync(ct);
        }
        catch (Exception inner) when (!ct.IsCancellationRequested)
        {
            LogRecordFailed(logger, target.Id, inner.Message);
        }
    }

    /// <summary>Carries out one plan against the engines and the database.</summary>
    private sealed class Acts(
        Converger owner, ControlPlaneDbContext db, ContainerView view, IReadOnlyList<NodePlace> places,
        IReadOnlyDictionary<string, ObservedNode> observed, ITargetRecord record, Func<Task> teardownExtras, Func<Task> rolesChanged, CancellationToken ct,
        IReadOnlyDictionary<string, string>? primaries = null, string? traceParent = null)
    {
        private readonly SemaphoreSlim _progress = new(1, 1);

        /// <summary>Replaced nodes whose container could not be removed: their ports stay leased.</summary>
        private readonly System.Collections.Concurrent.ConcurrentBag<string> _stillLeased = [];

        /// <summary>Set when slot moves failed too often: the reshard is given up after this plan's other moves end.</summary>
        private string? _abandon;

        private NodePlace Place(string nodeId) => places.First(p => p.NodeId == nodeId);

        private void Event(string message) => db.Record(owner.Time, record.SourceType, record.Id, message);

        public async Task<Progress> RunAsync(IReadOnlyList<NodeAction> plan, DateTimeOffset? creatingSince, bool settled)
        {
            if (plan.Count == 0)
                return Progress.Quiet;
            if (plan.OfType<Fail>().FirstOrDefault() is { } fail)
                return await FailAsync(fail.Reason);
            if (plan.All(a => a is Wait or Hold))
            {
                var why = plan[0] is Wait w ? w.Reason : ((Hold)plan[0]).Reason;
                if (creatingSince is { } since && owner.Time.GetUtcNow() - since > owner.Settings.CreateTimeout)
                    return await FailAsync($"Creation did not finish within {owner.Settings.CreateTimeout}: {why}");
                LogWaiting(owner.Logger, record.Id, why);
                // Held fire is told once, not at every pass it lasts.
                if (plan.OfType<Hold>().Select(h => h.Reason).FirstOrDefault() is { } held && owner._held.GetValueOrDefault(record.Id) != held)
                {
                    owner._held[record.Id] = held;
                    Event(held);
                    await SaveAsync();
                }
                return settled ? Progress.Settled : Progress.Waiting;
            }
            owner._held.TryRemove(record.Id, out _);
            using var activity = traceParent is null
                ? ControlPlaneMetrics.Activities.StartActivity("converge")
                : ControlPlaneMetrics.Activities.StartActivity("converge", System.Diagnostics.ActivityKind.Internal, traceParent);
            activity?.SetTag("controlplane.group", record.Id);
            LogActing(owner.Logger, record.Id, string.Join(", ", plan.Where(a => a is not Wait).Select(a => a.GetType().Name).Distinct()));

            if (plan.OfType<AllocatePort>().ToList() is { Count: > 0 } allocations)
            {
                await owner.Ports.AllocateAsync(db, allocations.Select(a =>
                {
                    var host = owner.Zones[Place(a.NodeId).Zone].Host;
                    return (a.NodeId, host, (Action<int>)(port => record.AssignPort(a.NodeId, host, port)));
                }).ToList(), ct);
            }
            // A decision is stored before anything acts on it: a control plane that dies after this point
            // finds it stored and finishes it. The endpoints follow the new roles at once.
            var decided = new HashSet<NodeAction>();
            if (plan.Any(a => a is Failover))
            {
                decided.UnionWith(plan.Where(a => a is Failover or MarkNode));
                foreach (var action in plan.Where(decided.Contains))
                    await RecordAsync(action);
                if (!await SaveAsync())
                    return Progress.Acted; // changed by the API meanwhile: observe and plan again
                await rolesChanged();
            }
            try
            {
                await Task.WhenAll(plan.Select(CountedStepAsync));
            }
            catch (DockerApiException e) when (e.StatusCode == System.Net.HttpStatusCode.NotFound && creatingSince is not null)
            {
                // No such image: nothing a retry fixes.
                return await FailAsync("A node could not start: its engine image is not available on the container host");
            }
            if (_abandon is { } reason)
            {
                await AbandonReshardAsync(reason);
                return Progress.Acted;
            }

            foreach (var action in plan.Where(a => !decided.Contains(a)))
                await RecordAsync(action);
            await SaveAsync();
            if (plan.Any(a => a is Promote or ClusterTakeover or Switchover))
                await rolesChanged();
            return plan.Any(a => a is ReleaseAll) ? Progress.Done : Progress.Acted;
        }

        private async Task RecordAsync(NodeAction action)
        {
            switch (action)
            {
                case MarkNode m:
                    var was = record.StatusOf(m.NodeId);
                    var serves = m.Status == NodeStatus.Available && !record.Creating;
                    // A Memcached node that was creating in a cluster that exists was added by a scale-out; a replacement is replacing.
                    var added = serves && was == NodeStatus.Creating && record.SourceType == SourceType.CacheCluster;
                    var recovered = serves && !added && (was == NodeStatus.Replacing || (was == NodeStatus.Creating && record.IsReplacement(m.NodeId)));
                    record.MarkNode(m.NodeId, m.Status, m.Role);
                    if (m.Status == NodeStatus.Failed)
                        Event($"Cache node {m.NodeId} failed");
                    if (recovered)
                        Event($"Finished recovery for cache nodes {m.NodeId}");
                    if (added)
                        Event($"Added cache node {m.NodeId} in availability zone {Place(m.NodeId).Zone}");
                    break;
                case RestartNode r:
                    record.Rebooted(r.NodeId);
                    Event($"Cache node {r.NodeId} rebooted");
                    break;
                case RemoveNode r:
                    await PortAllocator.ReleaseAsync(db, [r.NodeId], ct);
                    record.RemoveNode(r.NodeId);
                    Event($"Removed cache node {r.NodeId}");
                    break;
                case MarkShard s:
                    record.MarkShard(s.ShardId, s.Status);
                    break;
                case MarkGroup g:
                    record.MarkGroup(g.Status);
                    Event(g.Message);
                    break;
                case Failover f:
                    // Stored before anything is done: a control plane that dies here finishes the failover after restart.
                    record.MarkNode(f.FromNodeId, NodeStatus.Failed, NodeRole.Replica);
                    record.MarkNode(f.ToNodeId, NodeStatus.Available, NodeRole.Primary);
                    break;
                case StartTestFailover t:
                    record.MarkNode(t.NodeId, NodeStatus.Failed, NodeRole.Primary);
                    await db.TestFailovers.Where(x => x.ReplicationGroupId == record.Id && x.ShardId == t.ShardId && x.CompletedAt == null)
                        .ExecuteUpdateAsync(u => u.SetProperty(x => x.CompletedAt, owner.Time.GetUtcNow()), ct);
                    break;
                case Promote or ClusterTakeover:
                    var (node, from) = action is Promote p ? (p.NodeId, p.FromNodeId) : (((ClusterTakeover)action).NodeId, ((ClusterTakeover)action).FromNodeId);
                    if (from is not null)
                    {
                        Event($"Failover from primary node {from} to replica node {node} completed");
                        owner.Metrics.FailoverCompleted();
                    }
                    break;
                case ReplaceNode r:
                    if (!_stillLeased.Contains(r.NodeId))
                        await PortAllocator.ReleaseAsync(db, [r.NodeId], ct);
                    var replacement = record.Replace(r.NodeId, r.Zone, r.AsPrimary);
                    Event($"Recovering cache nodes {r.NodeId}");
                    if (r.DataLost)
                        Event($"Cache node {r.NodeId} was lost with no replica to fail over to; {replacement} replaces it empty and the data it held is lost");
                    break;
                case AddNode a:
                    var newNode = Group.AddNode(a.ShardId, a.Role, a.Zone, a.NodeType);
                    Event($"Added cache node {newNode} in availability zone {a.Zone}");
                    break;
                case AddShard a:
                    var shardNodes = Group.AddShard(a.ShardId, a.PrimaryZone, a.ReplicaZones, a.NodeType);
                    Event($"Added node group {a.ShardId} with cache nodes {string.Join(", ", shardNodes)}");
                    break;
                case RemoveShard r:
                    Group.RemoveShard(r.ShardId);
                    Event($"Removed node group {r.ShardId}");
                    break;
                case Switchover w:
                    record.MarkNode(w.ToNodeId, NodeStatus.Available, NodeRole.Primary);
                    record.MarkNode(w.FromNodeId, NodeStatus.Available, NodeRole.Replica);
                    Event($"Failover from primary node {w.FromNodeId} to replica node {w.ToNodeId} completed");
                    owner.Metrics.FailoverCompleted();
                    break;
                case PlanSlotMoves plan:
                    db.SlotMoves.AddRange(plan.Moves.Select(m => new SlotMoveEntity { ReplicationGroupId = record.Id, Slot = m.Slot, FromShardId = m.FromShardId, ToShardId = m.ToShardId }));
                    foreach (var leaving in plan.LeavingShardIds)
                        record.MarkShard(leaving, ShardStatus.Deleting);
                    Group.SlotMigrationProgress(plan.Moves.Count, plan.Moves.Count);
                    Event(plan.Moves.Count == 0
                        ? $"Node groups {string.Join(", ", plan.LeavingShardIds)} hold no slots and are removed"
                        : $"Slot migration started: {plan.Moves.Count} slots move, "
                            + string.Join("; ", plan.Moves.GroupBy(m => (m.FromShardId, m.ToShardId)).Select(g => $"{g.Count()} from node group {g.Key.FromShardId} to {g.Key.ToShardId}")));
                    break;
                case ReleaseAll:
                    await teardownExtras();
                    // A node whose zone does not answer may still run there: its port stays leased until its container is gone.
                    await PortAllocator.ReleaseAsync(db, places.Where(p => observed.GetValueOrDefault(p.NodeId)?.Container != ContainerState.ZoneUnreachable)
                        .Select(p => p.NodeId).ToList(), ct);
                    record.Remove();
                    Event(record.SourceType == SourceType.ReplicationGroup ? $"Replication group {record.Id} deleted" : $"Cache cluster {record.Id} deleted");
                    break;
            }
        }

        private GroupRecord Group => (GroupRecord)record;

        /// <summary>The engine step, counted by kind and result for /metrics.</summary>
        private async Task CountedStepAsync(NodeAction action)
        {
            using var scope = owner.Logger.BeginScope(new Dictionary<string, object?>
            {
                ["action"] = action.GetType().Name,
                // The node it acts on, where it has one (most actions do).
                ["node"] = action.GetType().GetProperty("NodeId")?.GetValue(action) as string,
            });
            try
            {
                await EngineStepAsync(action);
                owner.Metrics.ActionDone(action.GetType().Name, succeeded: true);
            }
            catch
            {
                owner.Metrics.ActionDone(action.GetType().Name, succeeded: false);
                throw;
            }
        }

        private async Task EngineStepAsync(NodeAction action)
        {
            switch (action)
            {
                case Switchover w:
                    await SwitchoverAsync(Place(w.FromNodeId), Place(w.ToNodeId));
                    break;
                case MoveSlots m:
                    await MoveSlotsAsync(m);
                    break;
                case StartContainer s:
                    var place = Place(s.NodeId);
                    view.Started(s.NodeId, await owner.Zones[place.Zone].Runtime.RunAsync(place.Spec!, ct));
                    break;
                case RemoveContainer r:
                    await RemoveAsync(Place(r.NodeId));
                    break;
                case RestartNode r:
                    await owner._reboots.RestartAsync(Place(r.NodeId), r.KeepData, view, ct);
                    break;
                case RemoveNode r:
                    await RemoveAsync(Place(r.NodeId));
                    break;
                case ReplaceNode r:
                    // The node is fenced already; removing again is a no-op, and an unreachable zone keeps it for orphan removal.
                    try
                    {
                        await RemoveAsync(Place(r.NodeId));
                    }
                    catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
                    {
                        // Its engine does not answer; the container has no restart policy and goes as an orphan later.
                        // Its port stays leased until then, so no new node binds where it may still listen.
                        _stillLeased.Add(r.NodeId);
                    }
                    break;
                case ReplicateFrom f:
                    var (replica, primary) = (Place(f.NodeId), Place(f.PrimaryNodeId));
                    await owner.Redis.ReplicaOfAsync(replica.Host!, replica.Port!.Value, primary.Host!, primary.Port!.Value, ct);
                    break;
                case Promote p:
                    var promoted = Place(p.NodeId);
                    await owner.Redis.PromoteAsync(promoted.Host!, promoted.Port!.Value, ct);
                    break;
                case ClusterTakeover t:
                    var takeover = Place(t.NodeId);
                    await owner.Redis.ClusterFailoverAsync(takeover.Host!, takeover.Port!.Value, ClusterFailoverMode.Takeover, ct);
                    break;
                case ClusterForget f:
                    var forgetting = Place(f.NodeId);
                    try
                    {
                        await owner.Redis.ClusterForgetAsync(forgetting.Host!, forgetting.Port!.Value, f.ClusterId, ct);
                    }
                    catch (StackExchange.Redis.RedisServerException e) when (e.Message.Contains("Unknown node", StringComparison.OrdinalIgnoreCase))
                    {
                        // Forgotten already.
                    }
                    break;
                case SetConfigEpoch e:
                    var fresh = Place(e.NodeId);
                    await owner.Redis.ClusterSetConfigEpochAsync(fresh.Host!, fresh.Port!.Value, e.Epoch, ct);
                    break;
                case ClusterMeet m:
                    var (seed, peer) = (Place(m.NodeId), Place(m.PeerNodeId));
                    await owner.Redis.ClusterMeetAsync(seed.Host!, seed.Port!.Value, peer.Host!, peer.Port!.Value, ct);
                    break;
                case AssignSlots a:
                    var slotOwner = Place(a.NodeId);
                    if (!SlotRanges.TryParse(a.Slots, out var ranges))
                        throw new InvalidOperationException($"Invalid slots {a.Slots}");
                    await owner.Redis.ClusterAddSlotsRangeAsync(slotOwner.Host!, slotOwner.Port!.Value, ranges, ct);
                    break;
                case ClusterReplicate c:
                    var node = Place(c.NodeId);
                    await owner.Redis.ClusterReplicateAsync(node.Host!, node.Port!.Value, observed[c.PrimaryNodeId].ClusterId!, ct);
                    break;
            }
        }

        /// <summary>
        /// A coordinated handover: the old primary pauses its clients until the replica has every write,
        /// then they swap (FAILOVER TO; CLUSTER FAILOVER asked of the replica in cluster mode).
        /// </summary>
        private async Task SwitchoverAsync(NodePlace from, NodePlace to)
        {
            if (observed[to.NodeId].ClusterId is not null)
                await owner.Redis.ClusterFailoverAsync(to.Host!, to.Port!.Value, ClusterFailoverMode.Default, ct);
            else
                await owner.Redis.FailoverToAsync(from.Host!, from.Port!.Value, to.Host!, to.Port!.Value, SwitchoverTimeout / 3, ct);
            var deadline = owner.Time.GetUtcNow() + SwitchoverTimeout;
            while (true)
            {
                var oldState = await owner.Redis.ProbeAsync(from.Host!, from.Port!.Value, ct);
                var newState = await owner.Redis.ProbeAsync(to.Host!, to.Port!.Value, ct);
                if (oldState?.Role == RedisRole.Replica && newState?.Role == RedisRole.Master)
                    return;
                if (owner.Time.GetUtcNow() > deadline)
                    throw new TimeoutException($"The switchover from {from.NodeId} to {to.NodeId} did not happen within {SwitchoverTimeout}.");
                await Task.Delay(WaitStep, owner.Time, ct);
            }
        }

        /// <summary>Moves stored slots for a bounded time; each batch the mover finishes is recorded at once (moves deleted, shards' slots updated).</summary>
        private ClusterMaster Master(string shardId)
        {
            var node = primaries?.GetValueOrDefault(shardId) ?? throw new InvalidOperationException($"Node group {shardId} has no available primary.");
            var place = Place(node);
            return new ClusterMaster(place.Host!, place.Port!.Value, observed[node].ClusterId ?? throw new InvalidOperationException($"{node} has no cluster id."));
        }

        private List<ClusterMaster> Masters() =>
            primaries!.Values.Select(id => observed.GetValueOrDefault(id)).OfType<ObservedNode>()
                .Where(o => o.Reachable && o.ClusterId is not null).Select(o => new ClusterMaster(Place(o.NodeId).Host!, Place(o.NodeId).Port!.Value, o.ClusterId!)).ToList();

        /// <summary>
        /// Moves stored slots for a bounded time; each batch the mover finishes is recorded at once (moves
        /// deleted, shards' slots updated). An engine that keeps refusing (out of memory, say) has the
        /// reshard given up after a few attempts rather than retried for ever.
        /// </summary>
        private async Task MoveSlotsAsync(MoveSlots m)
        {
            try
            {
                await owner.Mover.MoveAsync(Master(m.FromShardId), Master(m.ToShardId), Masters(), m.Slots, async (moved, keys) =>
                {
                    await _progress.WaitAsync(ct);
                    try
                    {
                        await using var tx = await db.Database.BeginTransactionAsync(ct);
                        await db.SlotMoves.Where(x => x.ReplicationGroupId == record.Id && moved.Contains(x.Slot)).ExecuteDeleteAsync(ct);
                        var gone = moved.ToHashSet();
                        Group.SetShardSlots(m.FromShardId, SlotRanges.Format(Slots(Group.ShardSlots(m.FromShardId)).Where(s => !gone.Contains(s))));
                        Group.SetShardSlots(m.ToShardId, SlotRanges.Format(Slots(Group.ShardSlots(m.ToShardId)).Concat(moved)));
                        Group.SlotMigrationProgress(null, await db.SlotMoves.CountAsync(x => x.ReplicationGroupId == record.Id, ct));
                        await db.SaveChangesAsync(ct);
                        await tx.CommitAsync(ct);
                    }
                    finally
                    {
                        _progress.Release();
                    }
                }, MoveBudget, ct);
                owner._moveFailures.TryRemove(record.Id, out _);
            }
            catch (SlotMoveException e)
            {
                if (owner._moveFailures.AddOrUpdate(record.Id, 1, (_, n) => n + 1) < MoveAttempts)
                    throw;
                _abandon = e.Message;
            }
        }

        /// <summary>
        /// Gives a reshard up: the slots that did not move are closed where they were (keys already on
        /// the receiving side go back, every master is told the old owner), the plan is deleted, leaving
        /// node groups stay, and the group is available with the node groups it has, with an event that says so.
        /// </summary>
        private async Task AbandonReshardAsync(string reason)
        {
            owner._moveFailures.TryRemove(record.Id, out _);
            var remaining = await db.SlotMoves.Where(x => x.ReplicationGroupId == record.Id).ToListAsync(ct);
            foreach (var pair in remaining.GroupBy(x => (x.FromShardId, x.ToShardId)))
            {
                var slots = pair.Select(x => x.Slot).ToList();
                var (from, to) = (Master(pair.Key.FromShardId), Master(pair.Key.ToShardId));
                await owner.Mover.MoveAsync(to, from, Masters(), slots, (_, _) => Task.CompletedTask, TimeSpan.MaxValue, ct);
                // A slot that still holds keys keeps its MIGRATING mark through SETSLOT NODE; STABLE drops it on both sides.
                await owner.Redis.ClusterSetSlotsStableAsync(from.Host, from.Port, slots, ct);
                await owner.Redis.ClusterSetSlotsStableAsync(to.Host, to.Port, slots, ct);
            }
            await db.SlotMoves.Where(x => x.ReplicationGroupId == record.Id).ExecuteDeleteAsync(ct);
            var shards = Group.GiveUpReshard();
            Event($"Modification of replication group {record.Id} failed and was stopped: {reason} "
                + $"{remaining.Count} slot(s) stayed with their node groups; the slots that had moved stay moved. The group is available with {shards} node group(s).");
            await SaveAsync();
        }

        private static IEnumerable<int> Slots(string? slots) => SlotRanges.TryParse(slots, out var ranges) ? SlotRanges.Expand(ranges) : [];

        private async Task RemoveAsync(NodePlace node)
        {
            await owner.Zones[node.Zone].Runtime.RemoveAsync(node.ContainerName, ct);
            view.Removed(node.NodeId);
            owner.Observer.Forget(node);
            if (node.Port is { } port)
            {
                await owner.Redis.DisconnectAsync(node.Host!, port);
                await owner.Mover.DisconnectAsync(node.Host!, port);
            }
        }

        private async Task<Progress> FailAsync(string reason)
        {
            // Nothing half-built is left running: the containers go, the ports are released, the record stays to say why.
            await Task.WhenAll(places.Select(p => owner.Zones[p.Zone].Runtime.RemoveAsync(p.ContainerName, ct)));
            await teardownExtras();
            await PortAllocator.ReleaseAsync(db, places.Select(p => p.NodeId).ToList(), ct);
            record.CreateFailed();
            Event($"Creation of {(record.SourceType == SourceType.ReplicationGroup ? "replication group" : "cache cluster")} {record.Id} failed: {reason}");
            await SaveAsync();
            return Progress.Done;
        }

        /// <summary>False when the API changed the group meanwhile (a delete, say): then nothing was stored, and the caller observes and plans again.</summary>
        private async Task<bool> SaveAsync()
        {
            try
            {
                await db.SaveChangesAsync(ct);
                return true;
            }
            catch (DbUpdateConcurrencyException)
            {
                return false;
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "The listing was out of date for the container of {NodeId}, which is {State}: observing again")]
    private static partial void LogListingStale(ILogger logger, string nodeId, ContainerState state);

    [LoggerMessage(Level = LogLevel.Debug, Message = "{Id} waits: {Reason}")]
    private static partial void LogWaiting(ILogger logger, string id, string reason);

    [LoggerMessage(Level = LogLevel.Debug, Message = "{Id} acts: {Steps}")]
    private static partial void LogActing(ILogger logger, string id, string steps);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not record the failure of {Id}: {Reason}")]
    private static partial void LogRecordFailed(ILogger logger, string id, string reason);
}

/// <summary>A session-level Postgres advisory lock on one group, held on its own connection while the group converges.</summary>
public sealed class GroupLock : IAsyncDisposable
{
    private readonly NpgsqlConnection _connection;
    private readonly string _key;

    private GroupLock(NpgsqlConnection connection, string key) => (_connection, _key) = (connection, key);

    public static async Task<GroupLock?> TryTakeAsync(ControlPlaneDbContext db, string key, CancellationToken ct)
    {
        var connection = new NpgsqlConnection(db.Database.GetConnectionString());
        await connection.OpenAsync(ct);
        await using var command = new NpgsqlCommand("SELECT pg_try_advisory_lock(hashtextextended(@key, 0))", connection);
        command.Parameters.AddWithValue("key", key);
        if ((bool)(await command.ExecuteScalarAsync(ct))!)
            return new GroupLock(connection, key);
        await connection.DisposeAsync();
        return null;
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await using var command = new NpgsqlCommand("SELECT pg_advisory_unlock(hashtextextended(@key, 0))", _connection);
            command.Parameters.AddWithValue("key", _key);
            await command.ExecuteScalarAsync();
        }
        finally
        {
            await _connection.DisposeAsync();
        }
    }
}
