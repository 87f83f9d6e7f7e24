using ControlPlane.Api.Runtime;
using System.Text.Json;
using ControlPlane.Api.Data;
using ControlPlane.Api.Options;
using ControlPlane.Api.Reconciliation.Actions;
using ControlPlane.Api.Snapshots;
using ControlPlane.Domain;
using ControlPlane.Domain.Planning;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

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
    Observer observer,
    GroupEndpoints endpoints,
    WarmPool pool,
    SnapshotTaker snapshots,
    ParameterState parameters,
    ClientAccessApplier clientAccess,
    DiscoveryEndpoints discovery,
    TransitEncryption transit,
    ActionExecutor executor,
    TimeProvider time,
    IOptions<ControlPlaneOptions> options,
    ILogger<Converger> logger)
{
    private static readonly TimeSpan WaitStep = TimeSpan.FromMilliseconds(50);

    private ReconcilerOptions Settings => options.Value.Reconciler;

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
            // Acting past the budget gives the pass back too: steps planned from nodes held on their last answer
            // (commands slower than the probes) change nothing the observation shows, and were planned again
            // and again for as long as that lasted (the simulation found a CLUSTER MEET repeated for ever).
            if (step.Progress == Progress.Settled || (step.Progress is Progress.Waiting or Progress.Acted && time.GetUtcNow() >= budgetEnds))
                return null;
            if (step.Progress == Progress.Waiting)
                await Task.Delay(WaitStep, time, ct);
        }
    }

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
    private Step Ended(Progress progress, string engine, IReadOnlyList<NodePlace> places, IReadOnlyDictionary<string, ObservedNode> observed)
    {
        if (progress != Progress.Quiet)
            return progress;
        var watched = places.Where(p => p.Host is not null && p.Port is not null).ToList();
        if (watched.FirstOrDefault(p => observed.GetValueOrDefault(p.NodeId) is not { Reachable: true, Stale: false }) is { } doubtful)
        {
            LogNotQuiet(logger, doubtful.NodeId, observed.GetValueOrDefault(doubtful.NodeId) is { Stale: true } ? "missed its last probe" : "does not answer");
            return new Step(Progress.Done);
        }
        return new Step(Progress.Done, new QuietGroup(engine, watched.Select(p => new NodePlace(p.NodeId, p.Zone, p.Host, p.Port, null, p.ContainerName)).ToList()));
    }

    private async Task<Step> StepGroupAsync(ControlPlaneDbContext db, string id, ContainerView view, CancellationToken ct)
    {
        var group = await db.ReplicationGroups.Include(g => g.Shards).ThenInclude(s => s.Nodes).AsSingleQuery().FirstOrDefaultAsync(g => g.Id == id, ct);
        if (group is null)
            return Progress.Done;
        var cluster = group.ClusterMode == ClusterMode.Enabled;
        // Saves what it takes itself, in the transaction that moves the pool node's lease.
        await pool.TakeAsync(db, group, view, ct);
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
        var family = Catalog.Family(group.Engine, group.EngineVersion);
        var startup = Domain.Parameters.ParameterCatalog.Startup(family, parameterValues);
        var places = nodes.Select(n => new NodePlace(n.Id, n.AvailabilityZone, n.Host, n.Port,
            n.Port is { } p ? specs.Redis(group.Id, n.ShardId, n.Id, n.Host!, p, NodeVersion(group, n), n.NodeType, cluster, n.Engine, startup, transit.For(n), nodes.Count) with
            {
                Name = specs.ContainerName(n.PoolId ?? n.Id),
                Seeds = restore is not null && n.Role == NodeRole.Primary && snapshots.Seed(restore, group.Shards.First(s => s.Id == n.ShardId)) is { } seed ? [seed] : null,
            } : null,
            specs.ContainerName(n.PoolId ?? n.Id), n.PoolId is not null)).ToList();
        var observed = await observer.ObserveAsync(Catalog.Redis, cluster, creating, places, view, Settings, ct);
        if (await ListingContradictedAsync(places, observed, nodes.Where(n => n.Status == NodeStatus.Available).Select(n => n.Id), view, ct))
        {
            observer.Settle(places, settled: false);
            return Progress.Acted;
        }
        var nodeParameters = await ObserveParametersAsync(family, cluster, parameterValues, nodes.Zip(places)
            .Where(n => n.First.Status == NodeStatus.Available && n.First.Host is not null && n.First.Port is not null)
            .Select(n => (n.Second, n.First.NodeType, n.First.ParameterGroupStatus)).ToList(), view, ct);
        // A delete's final snapshot is still to take until it is available.
        var finalSnapshot = group.Status == GroupStatus.Deleting && group.FinalSnapshotName is { } final
            && !await db.Snapshots.AnyAsync(s => s.Name == final && s.Status == SnapshotStatus.Available, ct) ? final : null;
        // The client users the nodes must hold (auth tokens, user group), and which nodes hold them: the
        // planner gives them to a node that lacks them before anything wires it to serve.
        var users = await clientAccess.DesiredAsync(db, group, ct);
        observed = clientAccess.Holding(observed, places, view, users.Fingerprint);
        // A test failover is asked of an available group only, and the request makes it modifying in the
        // same transaction: no other group has one pending, and a quiet group's pass skips the read.
        var testFailovers = group.Status == GroupStatus.Modifying
            ? await db.TestFailovers.Where(f => f.ReplicationGroupId == id && f.CompletedAt == null).Select(f => f.ShardId).ToListAsync(ct)
            : [];
        var target = Target(group);
        var moves = target is { Reshard: true } || group.Shards.Any(s => s.Status == ShardStatus.Deleting)
            ? await db.SlotMoves.AsNoTracking().Where(m => m.ReplicationGroupId == id).Select(m => new SlotMove(m.Slot, m.FromShardId, m.ToShardId)).ToListAsync(ct)
            : [];
        var desired = new DesiredGroup(group.Id, group.ClusterMode, group.Status,
            group.Shards.OrderBy(s => s.Id).Select(s => new DesiredShard(s.Id, s.Slots, s.Status,
                s.Nodes.OrderBy(n => n.Id).Select(n => new DesiredNode(n.Id, n.ShardId, n.Role, n.AvailabilityZone, n.Status, n.Port, n.NodeType, $"{n.Engine} {NodeVersion(group, n)}",
                    n.TransitEncryptionMode, n.TransitEncryptionMode is not null ? n.CertificateRenewAt : null, transit.InnerPortsToRelease(n, view),
                    ParametersOf(nodeParameters, n.Id))).ToList())).ToList(),
            group.AutomaticFailover, testFailovers.ToHashSet(), target, moves,
            group.CreatedAt, Window(group.PreferredMaintenanceWindow), group.PendingChanges, group.ScheduledChanges, group.RestoreFromSnapshot, finalSnapshot, group.TransitEncryptionMode,
            users.Mark, group.ClientAccessApplied);
        var plan = RedisPlanner.Plan(desired, observed, Context(view) with { RestoreProblem = restoreProblem }, time.GetUtcNow());
        if (await RefreshDoubtfulAsync(plan, places, view, ct))
        {
            observer.Settle(places, settled: false);
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
        var primaries = group.Shards.Select(s => (s.Id, Primary: s.Nodes.FirstOrDefault(n => n.Role == NodeRole.Primary && n.Status == NodeStatus.Available)?.Id))
            .Where(p => p.Primary is not null).ToDictionary(p => p.Id, p => p.Primary!);
        // Work the API asked for joins the request's trace; what the control plane does on its own starts one.
        var traceParent = group.Status != GroupStatus.Available || testFailovers.Count > 0 ? group.TraceParent : null;
        var pass = new ActionPass(db, view, places, observed, record, time, ct)
        {
            TeardownExtras = teardown, RolesChanged = rolesChanged, Primaries = primaries, TraceParent = traceParent, ClientUsers = users,
            ImmediateValues = nodeParameters.Where(p => p.Value.Immediate is not null).ToDictionary(p => p.Key, p => p.Value.Immediate!),
        };
        var progress = await executor.RunAsync(plan, pass, creating ? group.CreatedAt : null, group.Status is GroupStatus.Available or GroupStatus.IncompatibleNetwork);
        var ended = Ended(progress, Catalog.Redis, places, observed);
        // Only a group that ended quiet may have its nodes' cluster views reused at the next observation.
        observer.Settle(places, settled: ended.Quiet is not null);
        return ended;
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

    /// <summary>
    /// Where each node stands with its parameter group's values (<see cref="ParameterState.Observe"/>). A node
    /// about to be told pending-reboot because its listed container started with other start-up values is
    /// looked at once more first: another control plane may have rebooted it after this pass's listing (its
    /// new container has the values), and only the process that rebooted it remembers that. Once per node
    /// and pass; a node told pending-reboot already is not looked at again.
    /// </summary>
    private async Task<IReadOnlyDictionary<string, (NodeParameters Node, ImmediateValues? Immediate)>> ObserveParametersAsync(string family, bool cluster,
        IReadOnlyDictionary<string, string> values, IReadOnlyList<(NodePlace Place, string NodeType, string? Status)> nodes, ContainerView view, CancellationToken ct)
    {
        var observed = parameters.Observe(family, cluster, values, nodes, view);
        var doubtful = nodes.Where(n => observed.GetValueOrDefault(n.Place.NodeId).Node is { StartedWithWanted: false }
                && n.Status != Domain.Parameters.ParameterStatus.PendingReboot && !view.WasRelisted(n.Place.Zone, n.Place.ContainerName))
            .Select(n => n.Place).ToList();
        return await RelistAsync(doubtful, view, ct) ? parameters.Observe(family, cluster, values, nodes, view) : observed;
    }

    /// <summary>
    /// Looks at the nodes' containers once more, one listing per zone however many nodes: the view answers
    /// from it for the rest of the pass. A zone that does not answer now keeps what the pass's listing said.
    /// True when some zone answered.
    /// </summary>
    private async Task<bool> RelistAsync(IReadOnlyList<NodePlace> places, ContainerView view, CancellationToken ct)
    {
        var relisted = false;
        foreach (var zone in places.GroupBy(p => p.Zone))
        {
            if (await zones.ListAsync(zone.Key, ct) is not { } listing)
                continue;
            var named = listing.DistinctBy(c => c.Name).ToDictionary(c => c.Name);
            foreach (var place in zone)
                view.Relisted(zone.Key, place.ContainerName, named.GetValueOrDefault(place.ContainerName));
            relisted = true;
        }
        return relisted;
    }

    /// <summary>
    /// A refresh (nodes replaced, or scheduled to be, for an outdated command line) is decided from the
    /// pass's listing, which may predate another control plane's reboot of a node: its new container runs
    /// the new command line. Before the refresh starts or is scheduled, its nodes' zones are listed once
    /// more. True when that changed what the view says of one of them; the group is then observed again.
    /// </summary>
    private async Task<bool> RefreshDoubtfulAsync(IReadOnlyList<NodeAction> plan, IReadOnlyList<NodePlace> places, ContainerView view, CancellationToken ct)
    {
        var ids = plan switch
        {
            [StartRefresh start] => start.NodeIds,
            [ScheduleRefresh schedule] => schedule.NodeIds,
            _ => [],
        };
        var doubtful = places.Where(p => ids.Contains(p.NodeId) && !view.WasRelisted(p.Zone, p.ContainerName)).ToList();
        var before = doubtful.ToDictionary(p => p.NodeId, p => view.StateOf(p));
        return await RelistAsync(doubtful, view, ct) && doubtful.Any(p => view.StateOf(p) != before[p.NodeId]);
    }

    /// <summary>The maintenance window stored, or null (none, or one that does not parse).</summary>
    private static MaintenanceWindow? Window(string? text) =>
        text is not null && MaintenanceWindow.TryParse(text, out var window) is null ? window : null;

    /// <summary>The version a node runs: its own (rows from before per-node engines have none: the group's).</summary>
    private static string NodeVersion(ReplicationGroupEntity group, RedisNodeEntity node) => node.EngineVersion is { Length: > 0 } v ? v : group.EngineVersion;


    /// <summary>Creates from a snapshot whose files were checked already (group id, snapshot name).</summary>
    private readonly System.Collections.Concurrent.ConcurrentDictionary<(string, string), bool> _verified = new();

    /// <summary>What a modification under way asks of the topology: the stored shape, while changes are pending.</summary>
    private static GroupTarget? Target(ReplicationGroupEntity group) =>
        group.Status == GroupStatus.Modifying && group.PendingChanges is { } pending
            ? GroupTarget.For(pending, group.NumShards, group.ReplicasPerShard, group.NodeType, $"{group.Engine} {group.EngineVersion}")
            : null;

    private async Task<Step> StepClusterAsync(ControlPlaneDbContext db, string id, ContainerView view, CancellationToken ct)
    {
        var cluster = await db.CacheClusters.Include(c => c.Nodes).FirstOrDefaultAsync(c => c.Id == id, ct);
        if (cluster is null)
            return Progress.Done;
        var nodes = cluster.Nodes.OrderBy(n => n.Id).ToList();
        await transit.PrepareAsync(cluster, ct);
        var parameterValues = await Parameters.ParameterGroups.ValuesAsync(db, cluster.ParameterGroupName, cluster.Engine, cluster.EngineVersion, false, ct);
        var family = Catalog.Family(cluster.Engine, cluster.EngineVersion);
        var startup = Domain.Parameters.ParameterCatalog.Startup(family, parameterValues);
        var places = nodes.Select(n => new NodePlace(n.Id, n.AvailabilityZone, n.Host, n.Port,
            n.Port is { } p ? specs.Memcached(cluster.Id, n.Id, n.Host!, p, cluster.EngineVersion, cluster.NodeType, startup, transit.For(cluster, n)) : null, specs.ContainerName(n.Id))).ToList();
        var creating = cluster.Status == CacheClusterStatus.Creating;
        var observed = await observer.ObserveAsync(Catalog.Memcached, false, creating, places, view, Settings, ct);
        if (await ListingContradictedAsync(places, observed, nodes.Where(n => n.Status == NodeStatus.Available).Select(n => n.Id), view, ct))
            return Progress.Acted;
        var nodeParameters = await ObserveParametersAsync(family, false, parameterValues,
            nodes.Zip(places).Where(n => n.First.Status == NodeStatus.Available).Select(n => (n.Second, cluster.NodeType, n.First.ParameterGroupStatus)).ToList(), view, ct);
        var reboot = cluster.Status == CacheClusterStatus.Modifying ? cluster.PendingChanges?.RebootNodes?.ToHashSet() : null;
        var desired = new DesiredCluster(cluster.Id, cluster.Status,
            nodes.Select(n => new DesiredNode(n.Id, null, NodeRole.Primary, n.AvailabilityZone, n.Status, n.Port,
                CertificateRenewAt: cluster.TransitEncryption ? n.CertificateRenewAt : null, Parameters: ParametersOf(nodeParameters, n.Id))).ToList(), reboot,
            cluster.CreatedAt, Window(cluster.PreferredMaintenanceWindow), cluster.ScheduledChanges);
        var plan = MemcachedPlanner.Plan(desired, observed, Context(view), time.GetUtcNow());
        if (await RefreshDoubtfulAsync(plan, places, view, ct))
            return Progress.Acted;
        // Leased while the cluster is created, so that its record does not change under a client once it is available.
        if (cluster.Status is CacheClusterStatus.Creating or CacheClusterStatus.Available or CacheClusterStatus.Modifying)
            await discovery.EnsureAsync(db, cluster, ct);
        var record = new ClusterRecord(db, cluster, time);
        var traceParent = cluster.Status != CacheClusterStatus.Available ? cluster.TraceParent : null;
        var pass = new ActionPass(db, view, places, observed, record, time, ct) { TeardownExtras = () => discovery.RemoveAsync(db, cluster.Id, ct), TraceParent = traceParent };
        var progress = await executor.RunAsync(plan, pass, creating ? cluster.CreatedAt : null, cluster.Status is CacheClusterStatus.Available or CacheClusterStatus.IncompatibleNetwork);
        return Ended(progress, Catalog.Memcached, places, observed);
    }

    private static NodeParameters? ParametersOf(IReadOnlyDictionary<string, (NodeParameters Node, ImmediateValues? Immediate)> observed, string nodeId) =>
        observed.TryGetValue(nodeId, out var node) ? node.Node : null;

    private PlanContext Context(ContainerView view) =>
        new(zones.All.Select(z => z.Name).OrderBy(z => z).ToList(), view.ZonesDown, view.ZonesUnreachable) { CreateTimeout = Settings.CreateTimeout };

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

    [LoggerMessage(Level = LogLevel.Debug, Message = "Nothing to do, but the next pass observes again: node {NodeId} {Why}")]
    private static partial void LogNotQuiet(ILogger logger, string nodeId, string why);

    [LoggerMessage(Level = LogLevel.Information, Message = "The listing was out of date for the container of {NodeId}, which is {State}: observing again")]
    private static partial void LogListingStale(ILogger logger, string nodeId, ContainerState state);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not record the failure of {Id}: {Reason}")]
    private static partial void LogRecordFailed(ILogger logger, string id, string reason);
}
