using System.Collections.Concurrent;
using ControlPlane.Api.Engines;
using ControlPlane.Api.Options;
using ControlPlane.Api.Runtime;
using ControlPlane.Domain;
using ControlPlane.Domain.Planning;

namespace ControlPlane.Api.Reconciliation;

/// <summary>
/// Turns container listings and engine probes into the planner's observations. Probes of a node
/// run in parallel. A node that stops answering is only called unreachable after the configured
/// number of consecutive misses spanning the failure window, counted from the first probe this
/// process made (a control plane that just started knows nothing, and that is no evidence); until
/// then it keeps its last good observation, or is unknown. When every recently probed node of a
/// zone misses at once, the fault is far more likely ours (starved, a blip) than theirs: none of
/// them is called unreachable until one of them answers again.
/// </summary>
public sealed partial class Observer(IRedisAdmin redis, IMemcachedAdmin memcached, IHeartbeats heartbeats, TimeProvider time, ILogger<Observer> logger)
{
    /// <summary>A node's last good observation, its misses since, and its last probe (answered when Misses is 0).</summary>
    private sealed record History(ObservedNode? Last, int Misses, DateTimeOffset FirstMissAt, string Zone, DateTimeOffset ProbedAt);

    /// <summary>Nodes probed within this long count for the zone-wide rule.</summary>
    private static readonly TimeSpan ZoneMemory = TimeSpan.FromSeconds(10);

    /// <summary>At least this many nodes of a zone must miss at once before the misses are taken for our problem.</summary>
    private const int ZoneQuorum = 3;

    private readonly ConcurrentDictionary<string, History> _history = new();

    /// <summary>What a node's CLUSTER INFO and role read: while they read the same, its CLUSTER NODES does too (but see <see cref="ReconcilerOptions.ClusterViewRefresh"/>).</summary>
    private sealed record ViewKey(RedisRole Role, string? MasterHost, int? MasterPort, string? ClusterState, string? MyId,
        int? KnownNodes, int? SlotsAssigned, int? SlotsOk, long? CurrentEpoch, long? MyEpoch)
    {
        public static ViewKey Of(RedisNodeState s) =>
            new(s.Role, s.MasterHost, s.MasterPort, s.ClusterState, s.MyId, s.ClusterKnownNodes, s.SlotsAssigned, s.SlotsOk, s.CurrentEpoch, s.MyEpoch);
    }

    /// <summary>What a node's CLUSTER NODES tells of it: who it is, whom it knows and follows, the slots it owns.</summary>
    private sealed record ViewFields(string? ClusterId, IReadOnlySet<string> KnownNodeIds, string? ClusterPrimaryNodeId, string? OwnedSlots,
        IReadOnlySet<string> ViewClusterIds, string? ClusterMasterId, long ConfigEpoch)
    {
        public ObservedNode On(ObservedNode observed, RedisNodeState state) => observed with
        {
            ClusterId = ClusterId,
            KnownNodeIds = KnownNodeIds,
            ClusterPrimaryNodeId = ClusterPrimaryNodeId,
            OwnedSlots = OwnedSlots,
            ClusterStateOk = state.ClusterState == "ok",
            ViewClusterIds = ViewClusterIds,
            ClusterMasterId = ClusterMasterId,
            ConfigEpoch = ConfigEpoch,
        };
    }

    /// <summary>A node's last CLUSTER NODES, with its key then and when it was read.</summary>
    private sealed record ClusterView(ViewKey Key, DateTimeOffset ReadAt, ViewFields Fields);

    private readonly ConcurrentDictionary<string, ClusterView> _views = new();

    // Nodes whose group ended its last convergence with nothing to do: only their views are reused.
    private readonly ConcurrentDictionary<string, bool> _settled = new();

    /// <summary>
    /// After a step of the group's convergence: settled when its plan was empty and every node answered,
    /// so the next observation may reuse views that still read the same; any other step (work done,
    /// waits, doubt) has every view read again.
    /// </summary>
    public void Settle(IEnumerable<NodePlace> nodes, bool settled)
    {
        foreach (var node in nodes)
        {
            if (settled)
                _settled[node.NodeId] = true;
            else
                _settled.TryRemove(node.NodeId, out _);
        }
    }

    /// <summary>The node is gone: its history goes, and its heartbeat socket (its port may serve another node next).</summary>
    public void Forget(NodePlace node)
    {
        _history.TryRemove(node.NodeId, out _);
        _views.TryRemove(node.NodeId, out _);
        _settled.TryRemove(node.NodeId, out _);
        if (node.Host is { } host && node.Port is { } port)
            heartbeats.Forget(host, port);
    }

    public async Task<IReadOnlyDictionary<string, ObservedNode>> ObserveAsync(
        string engine, bool cluster, bool creating, IReadOnlyList<NodePlace> nodes, ContainerView containers, ReconcilerOptions settings,
        CancellationToken ct)
    {
        // By host and port, not "host:port": a view of a 500-node cluster looks up 500 addresses.
        var byAddress = nodes.Where(n => n.Port is not null).ToDictionary(n => (n.Host ?? "", n.Port!.Value), n => n.NodeId);
        var offsetsBefore = nodes.ToDictionary(n => n.NodeId, n => _history.GetValueOrDefault(n.NodeId)?.Last?.Offset);
        var results = await Task.WhenAll(nodes.Select(async node =>
        {
            var (state, exitCode) = containers.StateOf(node);
            // A zone whose engine does not answer makes its nodes suspect; the probe says whether they are alive.
            // An outdated container still runs and may hold data: it is probed like any other, never taken for dead.
            if (state is not (ContainerState.Running or ContainerState.ZoneUnreachable or ContainerState.Outdated) || node.Port is not { } port || node.Host is not { } host)
                return new ObservedNode(node.NodeId, state, exitCode);
            // On the control plane's clock (CancelAfter would run on the machine's): a simulation's probes time out in its time.
            using var deadline = new CancellationTokenSource(settings.ProbeTimeout, time);
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct, deadline.Token);
            ObservedNode? seen;
            try
            {
                // WaitAsync bounds the probe even where the client cannot be cancelled (a connect in progress).
                seen = engine == Catalog.Redis
                    ? await ProbeRedisAsync(node.NodeId, host, port, cluster, byAddress, settings.ClusterViewRefresh, timeout.Token).WaitAsync(timeout.Token)
                    : await memcached.VersionAsync(host, port, timeout.Token).WaitAsync(timeout.Token) is null ? null : new ObservedNode(node.NodeId, ContainerState.Running, Reachable: true, IsPrimary: true);
            }
            catch (OperationCanceledException) when (!ct.IsCancellationRequested)
            {
                seen = null; // a hung node: no answer within the probe timeout
            }
            var o = Remember(node, seen, creating, settings);
            return state == ContainerState.Outdated || (state == ContainerState.ZoneUnreachable && !o.Reachable) ? o with { Container = state } : o;
        }));
        var observed = results.ToDictionary(o => o.NodeId);
        return engine == Catalog.Redis ? MarkLagging(observed, offsetsBefore) : observed;
    }

    /// <summary>
    /// A replica has the data once its own primary lists it online and its offset has reached where
    /// that primary was one probe earlier (or now, on the first probe): a link that is up proves
    /// neither, the replica may have synced from whatever listened on that port before.
    /// </summary>
    private static Dictionary<string, ObservedNode> MarkLagging(Dictionary<string, ObservedNode> observed, Dictionary<string, long?> offsetsBefore)
    {
        foreach (var (id, o) in observed.ToList())
        {
            if (!o.Reachable || o.IsPrimary || !o.LinkUp || o.PrimaryNodeId is not { } primaryId)
                continue;
            var online = observed.GetValueOrDefault(primaryId) is { Reachable: true, IsPrimary: true } primary && primary.OnlineReplicas?.Contains(id) == true;
            var target = offsetsBefore.GetValueOrDefault(primaryId) ?? observed.GetValueOrDefault(primaryId)?.Offset ?? long.MaxValue;
            if (!online || o.Offset < target)
                observed[id] = o with { Lagging = true };
        }
        return observed;
    }

    private ObservedNode Remember(NodePlace node, ObservedNode? seen, bool creating, ReconcilerOptions settings)
    {
        var now = time.GetUtcNow();
        if (seen is not null)
        {
            _history[node.NodeId] = new History(seen, 0, default, node.Zone, now);
            return seen;
        }
        var before = _history.GetValueOrDefault(node.NodeId) ?? new History(null, 0, now, node.Zone, now);
        var history = before with { Misses = before.Misses + 1, FirstMissAt = before.Misses == 0 ? now : before.FirstMissAt, Zone = node.Zone, ProbedAt = now };
        _history[node.NodeId] = history;
        // A starting node is simply not there yet.
        if (creating)
            return new ObservedNode(node.NodeId, ContainerState.Running, Reachable: false);
        var suspect = history.Misses >= settings.FailureThreshold && now - history.FirstMissAt >= settings.FailureWindow;
        if (suspect && ZoneSilent(node.Zone, now))
        {
            LogZoneSilent(logger, node.NodeId, node.Zone);
            suspect = false;
        }
        if (suspect)
            return new ObservedNode(node.NodeId, ContainerState.Running, Reachable: false);
        // The benefit of the doubt: what it was last seen as, or nothing known at all.
        return history.Last is { } last ? last with { Stale = true } : new ObservedNode(node.NodeId, ContainerState.Running, Stale: true);
    }

    /// <summary>Every node of the zone probed lately missed its last probe, and there are enough of them to say it is not theirs.</summary>
    private bool ZoneSilent(string zone, DateTimeOffset now)
    {
        var recent = _history.Values.Where(h => h.Zone == zone && now - h.ProbedAt <= ZoneMemory).ToList();
        return recent.Count >= ZoneQuorum && recent.All(h => h.Misses > 0);
    }

    /// <summary>
    /// The light probe of the quiet groups: one PING (Memcached: version) per node on a socket of
    /// its own, all sent together, counted in the same history as the full probes, so a hung node
    /// is judged as fast as if the full observation had run. Returns the groups whose every node
    /// answered; a miss is the caller's cue to observe that group fully.
    /// </summary>
    public async Task<IReadOnlySet<string>> HeartbeatAsync(IReadOnlyList<(string Key, QuietGroup Group)> groups, ReconcilerOptions settings, CancellationToken ct)
    {
        var nodes = groups.SelectMany(g => g.Group.Nodes.Select(node => (g.Key, Node: node, Target: new HeartbeatTarget(node.Host!, node.Port!.Value, g.Group.Engine == Catalog.Memcached)))).ToList();
        // One timeout for the whole beat: every node gets the same probe timeout, from the same start.
        using var deadline = new CancellationTokenSource(settings.ProbeTimeout, time);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct, deadline.Token);
        var answers = await heartbeats.BeatAllAsync(nodes.Select(n => n.Target).ToList(), settings.ProbeTimeout, timeout.Token);
        ct.ThrowIfCancellationRequested();
        var now = time.GetUtcNow();
        var missed = new HashSet<string>();
        for (var i = 0; i < nodes.Count; i++)
        {
            var (key, node, _) = nodes[i];
            if (answers[i])
                _history.AddOrUpdate(node.NodeId, _ => new History(null, 0, default, node.Zone, now), (_, h) => h with { Misses = 0, ProbedAt = now });
            else
            {
                LogHeartbeatMissed(logger, node.NodeId);
                Remember(node, null, creating: false, settings);
                missed.Add(key);
            }
        }
        return groups.Select(g => g.Key).Where(k => !missed.Contains(k)).ToHashSet();
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Node {NodeId} missed a heartbeat: its group is observed in full")]
    private static partial void LogHeartbeatMissed(ILogger logger, string nodeId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Node {NodeId} misses its probes, but so does every node of zone {Zone}: held, not failed")]
    private static partial void LogZoneSilent(ILogger logger, string nodeId, string zone);

    /// <summary>At most this many distinct sets are kept for sharing; past it they are dropped all at once.</summary>
    private const int MaxSharedSets = 4096;

    private readonly ConcurrentDictionary<(int Count, int Hash), IReadOnlySet<string>> _sharedSets = new();

    /// <summary>
    /// One instance for sets that read the same. The nodes of a settled cluster all know the same
    /// peers, and the planner checks who knows whom once per distinct set: 500 nodes cost 500 looks
    /// instead of 250,000 (about 15 ms of a core per plan of a 500-node group).
    /// </summary>
    private IReadOnlySet<string> Shared(SharedSetBuilder set)
    {
        var key = (set.Items.Count, set.Hash);
        if (_sharedSets.TryGetValue(key, out var same) && same.SetEquals(set.Items))
            return same;
        if (_sharedSets.Count >= MaxSharedSets)
            _sharedSets.Clear();
        _sharedSets[key] = set.Items;
        return set.Items;
    }

    /// <summary>A set being filled, with the hash <see cref="Shared"/> looks it up by, taken as items are added (the same in any order).</summary>
    private sealed class SharedSetBuilder(int capacity)
    {
        public HashSet<string> Items { get; } = new(capacity, StringComparer.Ordinal);

        public int Hash { get; private set; }

        public void Add(string item)
        {
            if (Items.Add(item))
                Hash = unchecked(Hash + StringComparer.Ordinal.GetHashCode(item));
        }
    }

    private async Task<ObservedNode?> ProbeRedisAsync(
        string nodeId, string host, int port, bool cluster, IReadOnlyDictionary<(string Host, int Port), string> byAddress, TimeSpan viewRefresh, CancellationToken ct)
    {
        var state = await redis.ProbeAsync(host, port, ct);
        if (state is null)
            return null;
        var primaryNodeId = state.MasterHost is { } mh && state.MasterPort is { } mp ? byAddress.GetValueOrDefault((mh, mp), $"{mh}:{mp}") : null;
        var observed = new ObservedNode(nodeId, ContainerState.Running, Reachable: true, IsPrimary: state.Role == RedisRole.Master,
            PrimaryNodeId: primaryNodeId, LinkUp: state.MasterLinkUp, Offset: state.ReplicationOffset, Keys: state.KeyCount,
            OnlineReplicas: state.Replicas.Where(r => r.Online).Select(r => byAddress.GetValueOrDefault((r.Host, r.Port))).OfType<string>().ToHashSet());
        if (!cluster)
            return observed;
        var key = ViewKey.Of(state);
        var now = time.GetUtcNow();
        if (_settled.ContainsKey(nodeId) && _views.GetValueOrDefault(nodeId) is { } last && last.Key == key && now - last.ReadAt < viewRefresh)
            return last.Fields.On(observed, state);
        IReadOnlyList<ClusterNodeInfo> view;
        try
        {
            view = await redis.ClusterNodesAsync(host, port, ct);
        }
        catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
        {
            return null;
        }
        // A node that has met nobody does not know its own address yet (":7000@17000"): it is the node probed.
        string? Ours(ClusterNodeInfo n) => n.IsMyself ? nodeId : byAddress.GetValueOrDefault((n.Host, n.Port));
        var myself = view.FirstOrDefault(n => n.IsMyself);
        var master = myself?.MasterId is { } masterId ? view.FirstOrDefault(n => n.Id == masterId) : null;
        // One walk of the view for both sets: a 500-node cluster's views are 250,000 entries.
        var (known, clusterIds) = (new SharedSetBuilder(view.Count), new SharedSetBuilder(view.Count));
        foreach (var n in view)
        {
            if (n.InHandshake)
                continue;
            if (Ours(n) is { } ours)
                known.Add(ours);
            clusterIds.Add(n.Id);
        }
        var fields = new ViewFields(
            ClusterId: myself?.Id ?? state.MyId,
            KnownNodeIds: Shared(known),
            ClusterPrimaryNodeId: master is null ? null : Ours(master) ?? master.Id,
            OwnedSlots: myself is null ? null : SlotRanges.Format(myself.Slots),
            // Itself included, so that the nodes of a settled cluster read the same set (see Shared).
            ViewClusterIds: Shared(clusterIds),
            ClusterMasterId: myself?.MasterId,
            ConfigEpoch: myself?.ConfigEpoch ?? 0);
        _views[nodeId] = new ClusterView(key, now, fields);
        return fields.On(observed, state);
    }
}
