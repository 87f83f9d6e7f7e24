using System.Collections.Concurrent;
using ControlPlane.Api.Data;
using ControlPlane.Api.Monitoring;
using ControlPlane.Api.Options;
using ControlPlane.Api.Runtime;
using ControlPlane.Api.Security;
using ControlPlane.Domain;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace ControlPlane.Api.Reconciliation;

/// <summary>
/// The level-triggered loop: each pass loads the desired state, lists the containers of every zone
/// once, removes orphans, and converges every group and cluster in its own try/catch, so one broken
/// group never stalls the others. Woken early by API writes and container events.
/// </summary>
public sealed partial class Reconciler(
    IServiceScopeFactory scopes,
    ZoneRegistry zones,
    Converger converger,
    WarmPool pool,
    GroupEndpoints endpoints,
    ReconcileSignal signal,
    ContainerDeaths deaths,
    NodeSecretStore secrets,
    Observer observer,
    ControlPlaneMetrics metrics,
    DiscoveryEndpoints discovery,
    TimeProvider time,
    IOptions<ControlPlaneOptions> options,
    ILogger<Reconciler> logger) : BackgroundService
{
    private static readonly TimeSpan MaxBackoff = TimeSpan.FromSeconds(30);

    private readonly ConcurrentDictionary<string, (int Failures, DateTimeOffset NotBefore)> _backoff = new();
    private readonly ConcurrentDictionary<string, DateTimeOffset> _zoneDownSince = new();
    private readonly ConcurrentDictionary<string, bool> _dirty = new();
    // Listings and convergence ends are numbered in one sequence, to tell which came first.
    private long _sequence;
    private readonly ConcurrentDictionary<string, long> _endedAt = new();
    // Which groups are converging now; claimed before the task starts, so a fast task cannot finish before it is recorded.
    private readonly ConcurrentDictionary<string, Task> _running = new();
    // What the last pass saw: every group and cluster, and those of them with nothing to do (the heartbeat's nodes).
    private IReadOnlyList<Target> _targets = [];
    private readonly ConcurrentDictionary<string, QuietGroup> _quiet = new();
    private DateTimeOffset _lastFullPass;
    private DateTimeOffset _lastBeat;
    // Bounds the convergences running at once (each holds database connections); the rest queue in order.
    private readonly SemaphoreSlim _convergences = new(options.Value.Reconciler.MaxConvergences);

    private ReconcilerOptions Settings => options.Value.Reconciler;

    protected override async Task ExecuteAsync(CancellationToken ct)
    {
        if (!Settings.Enabled)
            return;
        if (PortAllocator.EphemeralOverlap(Settings.PortRangeStart, Settings.PortRangeEnd) is { } ephemeral)
            LogPortsEphemeral(logger, Settings.PortRangeStart, Settings.PortRangeEnd, ephemeral);
        var (woken, again) = (true, (IReadOnlySet<string>)new HashSet<string>());
        while (!ct.IsCancellationRequested)
        {
            await TurnAsync(woken, again, ct);
            try
            {
                await signal.WaitAsync(Settings.PassInterval, ct);
                (woken, again) = signal.Take();
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }
        await Task.WhenAll(_running.Values);
    }

    /// <summary>
    /// One turn of the loop: a full pass when <paramref name="woken"/> by an outside change or when the
    /// last full one is QuietPassInterval old; otherwise the heartbeat, and a pass for the groups it did
    /// not hear from, those in <paramref name="again"/> and those with work. A failed turn is logged; the
    /// next one tries again. The simulation tests drive the loop through this, one turn per step.
    /// </summary>
    public async Task<Turn> TurnAsync(bool woken, IReadOnlySet<string> again, CancellationToken ct)
    {
        var started = time.GetTimestamp();
        var turn = Turn.Heartbeat;
        try
        {
            if (woken || time.GetUtcNow() - _lastFullPass >= Settings.QuietPassInterval)
            {
                turn = Turn.Pass;
                await PassAsync(woken, skip: null, ct);
            }
            else if (await HeartbeatAsync(ct) is { } answered && answered.Except(again).ToHashSet() is var skip && AnyToConverge(skip))
            {
                turn = Turn.HeartbeatThenPass;
                await PassAsync(woken: false, skip, ct);
            }
        }
        catch (Exception e) when (!ct.IsCancellationRequested)
        {
            LogPassFailed(logger, e);
            metrics.PassFinished(time.GetElapsedTime(started), succeeded: false);
            return Turn.Failed;
        }
        // The light passes of a quiet control plane are heartbeats, not reconcile passes.
        if (turn != Turn.Heartbeat)
            metrics.PassFinished(time.GetElapsedTime(started), succeeded: true);
        return turn;
    }

    /// <summary>
    /// The light pass between full ones: each group whose last convergence found nothing to do gets
    /// one PING per node instead of the whole observation. Returns the groups whose every node
    /// answered; they sit this pass out. Container deaths and API writes wake a full pass
    /// themselves, so the heartbeat watches only for what sends no event: a hung or unreachable node.
    /// Quiet is judged per group: one group that keeps converging (a create, a failed node) costs
    /// its own observation, not everyone's.
    /// </summary>
    private async Task<IReadOnlySet<string>> HeartbeatAsync(CancellationToken ct)
    {
        // Between beats the quiet groups stay quiet: each was either heard from at the last beat or
        // observed in full since (it became quiet after it).
        var now = time.GetUtcNow();
        if (now - _lastBeat < Settings.HeartbeatInterval)
            return _quiet.Keys.ToHashSet();
        _lastBeat = now;
        var quiet = _targets
            .Where(t => !_running.ContainsKey(t.Key))
            .Select(t => (t.Key, Group: _quiet.GetValueOrDefault(t.Key)!))
            .Where(t => t.Group is not null)
            .ToList();
        return quiet.Count == 0 ? new HashSet<string>() : await observer.HeartbeatAsync(quiet, Settings, ct);
    }

    /// <summary>True when some group is neither quiet, converging already, nor backing off: it needs a pass now.</summary>
    private bool AnyToConverge(IReadOnlySet<string> quiet)
    {
        var now = time.GetUtcNow();
        var waiting = _targets.FirstOrDefault(t =>
            !quiet.Contains(t.Key) && !_running.ContainsKey(t.Key) && !(_backoff.TryGetValue(t.Key, out var b) && b.NotBefore > now));
        if (waiting is not null)
            LogNotQuiet(logger, waiting.Id);
        return waiting is not null;
    }

    /// <summary>
    /// Lists every zone, reads which groups exist and converges each, except those in
    /// <paramref name="skip"/> (quiet ones whose heartbeat just answered). Only a full pass (no skip)
    /// restarts the QuietPassInterval clock.
    /// </summary>
    public async Task PassAsync(bool woken, IReadOnlySet<string>? skip, CancellationToken ct)
    {
        var passStarted = time.GetTimestamp();
        // Node specs carry the control plane's login on every node: loaded once, before any spec is built.
        await secrets.GetAsync(ct);
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<ControlPlaneDbContext>();
        await ExpireAsync(db, ct);

        var listedAt = Interlocked.Increment(ref _sequence);
        var listing = await zones.ListAsync(ct);
        // What the database knows is read after the listing: whoever started a container had recorded
        // it (a node row, a lease) before, so nothing listed here is taken for an orphan by mistake,
        // also when another control plane started it a moment ago.
        // Leases before nodes: a lease read here belongs to a node that existed already, so one that
        // is in no node list read next is truly retired, not a new node's.
        var leases = await db.PortLeases.AsNoTracking().Select(l => l.NodeId).ToListAsync(ct);
        var groupModes = await db.ReplicationGroups.AsNoTracking().Select(g => new { g.Id, g.ClusterMode }).ToListAsync(ct);
        var groups = groupModes.Select(g => g.Id).ToList();
        var endpointGroups = groupModes.Where(g => g.ClusterMode == ClusterMode.Disabled).Select(g => g.Id).ToList();
        var clusters = await db.CacheClusters.AsNoTracking().Select(c => c.Id).ToListAsync(ct);
        var redisNodes = await db.RedisNodes.AsNoTracking().Select(n => new { n.Id, n.PoolId }).ToListAsync(ct);
        var nodeIds = redisNodes.Select(n => n.Id).Concat(await db.CacheNodes.Select(n => n.Id).ToListAsync(ct)).ToHashSet();
        var known = nodeIds
            .Concat(endpointGroups.Select(GroupEndpoints.NodeLabel))
            // Pool nodes: idle ones hold a lease under their pool id, taken ones are named by their node.
            .Concat(leases.Where(WarmPool.IsPoolId))
            // A node's multiplexer of transit encryption's preferred mode lives as long as the node (or less).
            .Concat(nodeIds.Select(Security.Tls.NodeMultiplexer.NodeLabel))
            .Concat(redisNodes.Where(n => n.PoolId is not null).Select(n => n.PoolId!))
            .ToHashSet();

        var view = new ContainerView(listing, ZonesDownPastGrace(listing), deaths);
        await RemoveOrphansAsync(view, known, ct);
        var live = nodeIds.Concat(endpointGroups.SelectMany(GroupEndpoints.LeaseIds))
            // The inner ports of preferred mode are the node's as long as it has them.
            .Concat(leases.Where(l => TransitEncryption.NodeOfInnerLease(l) is { } node && nodeIds.Contains(node))).Concat(clusters.Select(DiscoveryEndpoints.LeaseId)).ToHashSet();
        discovery.Retain(clusters);
        await ReleaseRetiredLeasesAsync(db, view, leases.Where(id => !WarmPool.IsPoolId(id) && !live.Contains(id)).ToList(), ct);
        await SweepEndpointsAsync(db, ct);
        try
        {
            await pool.MaintainAsync(db, view, ct);
        }
        catch (Exception e) when (!ct.IsCancellationRequested)
        {
            // Another control plane won a race, an engine hiccuped: the groups still converge, the pool waits for the next pass.
            LogPoolFailed(logger, e);
        }

        // Each group converges on its own task; a slow one (a create waiting for gossip) does not
        // hold up the next pass for the others, and is not started twice.
        var now = time.GetUtcNow();
        if (skip is null)
            _lastFullPass = now;
        _targets = groups.Select(id => new Target(Catalog.Redis, id)).Concat(clusters.Select(id => new Target(Catalog.Memcached, id))).ToList();
        var started = new List<Task>();
        foreach (var target in _targets.Where(t => skip?.Contains(t.Key) != true))
        {
            if (_backoff.TryGetValue(target.Key, out var b) && b.NotBefore > now)
            {
                _quiet.TryRemove(target.Key, out _);
                continue;
            }
            // A convergence that ended after this listing was taken acted on what it shows: this listing
            // could call its new containers missing. One that ended quiet looked at everything after
            // this pass began and found nothing to do: it stays quiet. Another goes again at the next
            // pass, which lists again. (Re-running the quiet ones too kept a hundred groups converging
            // in turn for ever: each ended during the next pass's listing.)
            if (_endedAt.TryGetValue(target.Key, out var ended) && ended > listedAt)
            {
                if (!_quiet.ContainsKey(target.Key))
                    signal.WakeFor(target.Key);
                continue;
            }
            // Quiet again only once this pass's convergence says so.
            _quiet.TryRemove(target.Key, out _);
            var claim = new TaskCompletionSource();
            if (!_running.TryAdd(target.Key, claim.Task))
            {
                started.Add(_running.GetValueOrDefault(target.Key) ?? Task.CompletedTask);
                // Busy: a wake-up (an API write, a container event) is not lost, the group runs again as
                // soon as this convergence ends. A timed pass marks nothing: the next one looks anyway,
                // and marking would turn every long convergence into a chain of full passes.
                if (woken)
                    _dirty[target.Key] = true;
                continue;
            }
            started.Add(claim.Task);
            // On the caller's scheduler: the thread pool in the service (as Task.Run), the simulation
            // tests' single thread there (Simulation/), so their runs are the same every time.
            _ = Task.Factory.StartNew(async () =>
            {
                try
                {
                    await ConvergeAsync(target, view, ct);
                }
                finally
                {
                    _endedAt[target.Key] = Interlocked.Increment(ref _sequence);
                    _running.TryRemove(target.Key, out _);
                    claim.SetResult();
                    if (_dirty.TryRemove(target.Key, out _))
                        signal.WakeFor(target.Key);
                }
            }, CancellationToken.None, TaskCreationOptions.DenyChildAttach, TaskScheduler.Current).Unwrap();
        }
        // A full pass lasts until the last convergence it started has ended (deploy/bench/scale.sh reads it).
        if (skip is null)
            _ = Task.WhenAll(started).ContinueWith(_ => metrics.FullPassFinished(time.GetElapsedTime(passStarted)), TaskScheduler.Default);
    }

    /// <summary>Ends when every convergence started so far has ended (a test that drives passes itself waits for them).</summary>
    public Task ConvergencesAsync() => Task.WhenAll(_running.Values);

    private async Task ConvergeAsync(Target target, ContainerView view, CancellationToken ct)
    {
        try
        {
            await _convergences.WaitAsync(ct);
        }
        catch (OperationCanceledException)
        {
            return; // shutting down
        }
        var started = time.GetTimestamp();
        try
        {
            if (await converger.ConvergeAsync(target, view, ct) is { } quiet)
                _quiet[target.Key] = quiet;
            _backoff.TryRemove(target.Key, out _);
            metrics.Converged(target.Engine, succeeded: true, time.GetElapsedTime(started));
        }
        catch (Exception e) when (!ct.IsCancellationRequested)
        {
            var failures = _backoff.GetValueOrDefault(target.Key).Failures + 1;
            var delay = TimeSpan.FromMilliseconds(Math.Min(MaxBackoff.TotalMilliseconds, 250 * Math.Pow(2, failures - 1)));
            _backoff[target.Key] = (failures, time.GetUtcNow() + delay);
            LogConvergeFailed(logger, target.Id, failures, delay, e);
            metrics.Converged(target.Engine, succeeded: false, time.GetElapsedTime(started));
            await converger.RecordFailureAsync(target, failures, ct);
        }
        catch (OperationCanceledException)
        {
            // Shutting down.
        }
        finally
        {
            _convergences.Release();
        }
    }

    /// <summary>Zones whose engine has not answered since longer than the grace; replacements then go elsewhere.</summary>
    private HashSet<string> ZonesDownPastGrace(IReadOnlyDictionary<string, IReadOnlyList<ContainerInfo>?> listing)
    {
        var now = time.GetUtcNow();
        foreach (var (zone, containers) in listing)
        {
            if (containers is not null)
                _zoneDownSince.TryRemove(zone, out _);
            else
                _zoneDownSince.TryAdd(zone, now);
        }
        return _zoneDownSince.Where(z => now - z.Value >= Settings.ZoneGrace).Select(z => z.Key).ToHashSet();
    }

    /// <summary>A container with our marker whose node the database does not know is removed.</summary>
    private async Task RemoveOrphansAsync(ContainerView view, HashSet<string> known, CancellationToken ct)
    {
        foreach (var (zone, containers) in view.ByZone)
            foreach (var orphan in (containers ?? []).Where(c => !known.Contains(c.Labels.GetValueOrDefault(Labels.Node) ?? "")))
            {
                LogOrphan(logger, orphan.Name, zone);
                await zones[zone].Runtime.RemoveAsync(orphan.Id, ct);
            }
    }

    /// <summary>
    /// A lease whose node is gone but whose container could not be removed (its zone did not answer)
    /// was kept, so the port is not handed out while that container may still listen on it. Once every
    /// zone answers and no container of that node is left, the port is free again.
    /// </summary>
    private async Task ReleaseRetiredLeasesAsync(ControlPlaneDbContext db, ContainerView view, IReadOnlyList<string> retired, CancellationToken ct)
    {
        if (retired.Count == 0 || view.ZonesUnreachable.Count > 0)
            return;
        // A node's multiplexer still holds the node's port, and its inner ports are in use behind it.
        var listed = view.ByZone.Values.SelectMany(c => c!).Select(c => c.Labels.GetValueOrDefault(Labels.Node)).OfType<string>()
            .Select(label => Security.Tls.NodeMultiplexer.NodeOf(label) ?? label).ToHashSet();
        var free = retired.Where(id => !listed.Contains(TransitEncryption.NodeOfInnerLease(id) ?? id)).ToList();
        if (free.Count == 0)
            return;
        LogLeasesReleased(logger, string.Join(", ", free));
        await PortAllocator.ReleaseAsync(db, free, ct);
    }

    /// <summary>The kernel endpoints: rebuilt from the database at start-up, rules of unknown groups removed.</summary>
    private async Task SweepEndpointsAsync(ControlPlaneDbContext db, CancellationToken ct)
    {
        try
        {
            await endpoints.SweepAsync(db, ct);
        }
        catch (Exception e) when (!ct.IsCancellationRequested)
        {
            // Each group's convergence still applies its own rules; the next pass sweeps again.
            LogSweepFailed(logger, e);
        }
    }

    /// <summary>
    /// An expired group or cluster is deleted as if its owner had asked. Its generation stays: the
    /// expiry was desired state already, written (and counted) by the request that set expiresAt; turning
    /// it into a delete carries that out, and only the API's writes count generations.
    /// </summary>
    private async Task ExpireAsync(ControlPlaneDbContext db, CancellationToken ct)
    {
        var now = time.GetUtcNow();
        foreach (var group in await db.ReplicationGroups.Where(g => g.ExpiresAt <= now && g.Status != GroupStatus.Deleting).ToListAsync(ct))
        {
            group.Status = GroupStatus.Deleting;
            group.UpdatedAt = now;
            db.Record(time, SourceType.ReplicationGroup, group.Id, $"Replication group {group.Id} expired at {group.ExpiresAt:u} and is being deleted");
        }
        foreach (var cluster in await db.CacheClusters.Where(c => c.ExpiresAt <= now && c.Status != CacheClusterStatus.Deleting).ToListAsync(ct))
        {
            cluster.Status = CacheClusterStatus.Deleting;
            cluster.UpdatedAt = now;
            db.Record(time, SourceType.CacheCluster, cluster.Id, $"Cache cluster {cluster.Id} expired at {cluster.ExpiresAt:u} and is being deleted");
        }
        try
        {
            await db.SaveChangesAsync(ct);
        }
        catch (DbUpdateConcurrencyException)
        {
            // The API changed one of them meanwhile; the next pass looks again.
        }
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "A pass: {Id} has work or waits")]
    private static partial void LogNotQuiet(ILogger logger, string id);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Node ports {Start}-{End} or their cluster bus ports (port + 10000) reach the kernel's ephemeral range {Ephemeral}: a node may find its port taken by some connection's source port and exit. Choose ControlPlane:Reconciler:PortRangeStart/End below it.")]
    private static partial void LogPortsEphemeral(ILogger logger, int start, int end, string ephemeral);

    [LoggerMessage(Level = LogLevel.Error, Message = "Reconcile pass failed")]
    private static partial void LogPassFailed(ILogger logger, Exception e);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Converging {Id} failed ({Failures} in a row); retrying in {Delay}")]
    private static partial void LogConvergeFailed(ILogger logger, string id, int failures, TimeSpan delay, Exception e);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Maintaining the warm pool failed; the next pass tries again")]
    private static partial void LogPoolFailed(ILogger logger, Exception e);

    [LoggerMessage(Level = LogLevel.Information, Message = "Releasing the ports of nodes that are gone: {NodeIds}")]
    private static partial void LogLeasesReleased(ILogger logger, string nodeIds);
    [LoggerMessage(Level = LogLevel.Warning, Message = "Sweeping the endpoint rules failed")]
    private static partial void LogSweepFailed(ILogger logger, Exception e);

    [LoggerMessage(Level = LogLevel.Information, Message = "Removing orphan container {Name} in zone {Zone}")]
    private static partial void LogOrphan(ILogger logger, string name, string zone);
}
