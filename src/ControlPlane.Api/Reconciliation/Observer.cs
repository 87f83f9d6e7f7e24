using System.Collections.Concurrent;
using ControlPlane.Api.Engines;
using ControlPlane.Api.Runtime;
using ControlPlane.Domain;
using ControlPlane.Domain.Planning;

namespace ControlPlane.Api.Reconciliation;

/// <summary>A node as the observer needs it: where it runs and what its container should be.</summary>
public sealed record NodePlace(string NodeId, string Zone, string? Host, int? Port, ContainerSpec? Spec, string ContainerName, bool FromPool = false);

/// <summary>
/// Turns container listings and engine probes into the planner's observations. Probes of a node
/// run in parallel; a node that stops answering is only called unreachable after the configured
/// number of consecutive failures, and meanwhile keeps its last good observation.
/// </summary>
public sealed class Observer(RedisAdmin redis, MemcachedAdmin memcached)
{
    private readonly ConcurrentDictionary<string, (ObservedNode Last, int Failures)> _history = new();

    public void Forget(string nodeId) => _history.TryRemove(nodeId, out _);

    public async Task<IReadOnlyDictionary<string, ObservedNode>> ObserveAsync(
        string engine, bool cluster, bool creating, IReadOnlyList<NodePlace> nodes, ContainerView containers, int failureThreshold,
        TimeSpan probeTimeout, CancellationToken ct)
    {
        var byAddress = nodes.Where(n => n.Port is not null).ToDictionary(n => $"{n.Host}:{n.Port}", n => n.NodeId);
        var results = await Task.WhenAll(nodes.Select(async node =>
        {
            var (state, exitCode) = containers.StateOf(node);
            // A zone whose engine does not answer makes its nodes suspect; the probe says whether they are alive.
            // An outdated container still runs and may hold data: it is probed like any other, never taken for dead.
            if (state is not (ContainerState.Running or ContainerState.ZoneUnreachable or ContainerState.Outdated) || node.Port is not { } port || node.Host is not { } host)
                return new ObservedNode(node.NodeId, state, exitCode);
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
            timeout.CancelAfter(probeTimeout);
            ObservedNode? seen;
            try
            {
                // WaitAsync bounds the probe even where the client cannot be cancelled (a connect in progress).
                seen = engine == Catalog.Redis
                    ? await ProbeRedisAsync(node.NodeId, host, port, cluster, byAddress, timeout.Token).WaitAsync(timeout.Token)
                    : await memcached.VersionAsync(host, port, timeout.Token).WaitAsync(timeout.Token) is null ? null : new ObservedNode(node.NodeId, ContainerState.Running, Reachable: true, IsPrimary: true);
            }
            catch (OperationCanceledException) when (!ct.IsCancellationRequested)
            {
                seen = null; // a hung node: no answer within the probe timeout
            }
            var o = Remember(node.NodeId, seen, creating, failureThreshold);
            return state == ContainerState.Outdated || (state == ContainerState.ZoneUnreachable && !o.Reachable) ? o with { Container = state } : o;
        }));
        return results.ToDictionary(o => o.NodeId);
    }

    private ObservedNode Remember(string nodeId, ObservedNode? seen, bool creating, int threshold)
    {
        if (seen is not null)
        {
            _history[nodeId] = (seen, 0);
            return seen;
        }
        var (last, failures) = _history.GetValueOrDefault(nodeId);
        failures++;
        _history[nodeId] = (last, failures);
        // A starting node is simply not there yet; a running one gets the benefit of the doubt a few times.
        return !creating && last is not null && failures < threshold
            ? last with { Stale = true }
            : new ObservedNode(nodeId, ContainerState.Running, Reachable: false);
    }

    private async Task<ObservedNode?> ProbeRedisAsync(
        string nodeId, string host, int port, bool cluster, IReadOnlyDictionary<string, string> byAddress, CancellationToken ct)
    {
        var state = await redis.ProbeAsync(host, port, ct);
        if (state is null)
            return null;
        var primaryNodeId = state.MasterHost is { } mh && state.MasterPort is { } mp ? byAddress.GetValueOrDefault($"{mh}:{mp}", $"{mh}:{mp}") : null;
        var observed = new ObservedNode(nodeId, ContainerState.Running, Reachable: true, IsPrimary: state.Role == RedisRole.Master,
            PrimaryNodeId: primaryNodeId, LinkUp: state.MasterLinkUp, Offset: state.ReplicationOffset);
        if (!cluster)
            return observed;
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
        string? Ours(ClusterNodeInfo n) => n.IsMyself ? nodeId : byAddress.GetValueOrDefault($"{n.Host}:{n.Port}");
        var myself = view.FirstOrDefault(n => n.IsMyself);
        var master = myself?.MasterId is { } masterId ? view.FirstOrDefault(n => n.Id == masterId) : null;
        return observed with
        {
            ClusterId = myself?.Id ?? state.MyId,
            KnownNodeIds = view.Where(n => !n.InHandshake).Select(Ours).OfType<string>().ToHashSet(),
            ClusterPrimaryNodeId = master is null ? null : Ours(master) ?? master.Id,
            OwnedSlots = myself is null ? null : SlotRanges.Format(SlotRanges.Expand(myself.Slots)),
            ClusterStateOk = state.ClusterState == "ok",
            ViewClusterIds = view.Where(n => !n.InHandshake && !n.IsMyself).Select(n => n.Id).ToHashSet(),
            ClusterMasterId = myself?.MasterId,
            ConfigEpoch = myself?.ConfigEpoch ?? 0,
        };
    }
}

/// <summary>
/// The pass's one listing per zone, plus what this pass itself started or removed since, so a
/// group's convergence does not list containers again after each step.
/// </summary>
public sealed class ContainerView(IReadOnlyDictionary<string, IReadOnlyList<ContainerInfo>?> byZone, IReadOnlySet<string>? zonesDownPastGrace = null)
{
    public IReadOnlySet<string> ZonesUnreachable { get; } = byZone.Where(z => z.Value is null).Select(z => z.Key).ToHashSet();

    /// <summary>Zones whose engine has not answered for longer than the grace: replacements go elsewhere.</summary>
    public IReadOnlySet<string> ZonesDown { get; } = zonesDownPastGrace ?? new HashSet<string>();

    private readonly ConcurrentDictionary<string, ContainerState> _changed = new();

    public IReadOnlyDictionary<string, IReadOnlyList<ContainerInfo>?> ByZone => byZone;

    public void Started(string nodeId) => _changed[nodeId] = ContainerState.Running;

    public void Removed(string nodeId) => _changed[nodeId] = ContainerState.Missing;

    private readonly ConcurrentDictionary<string, string> _endpoints = new();

    /// <summary>The spec hash of the endpoint proxy this pass started for a group, if any.</summary>
    public string? EndpointRunning(string groupId) => _endpoints.GetValueOrDefault(groupId);

    public void EndpointStarted(string groupId, string specHash) => _endpoints[groupId] = specHash;

    public (ContainerState State, long? ExitCode) StateOf(NodePlace node)
    {
        if (_changed.TryGetValue(node.NodeId, out var changed))
            return (changed, null);
        if (byZone.GetValueOrDefault(node.Zone) is not { } containers)
            return (ContainerState.ZoneUnreachable, null);
        // A node that took a pool container is found by that container's name; its spec is the pool's.
        var container = node.FromPool
            ? containers.FirstOrDefault(c => c.Name == node.ContainerName)
            : containers.FirstOrDefault(c => c.Labels.GetValueOrDefault(Labels.Node) == node.NodeId);
        if (container is null)
            return (ContainerState.Missing, null);
        // A paused container is alive to Docker but answers nothing: the probes judge it, like any hung node.
        if (!container.Running && container.State != "paused")
            return (ContainerState.Exited, container.ExitCode);
        var outdated = !node.FromPool && node.Spec is not null && container.Labels.GetValueOrDefault(Labels.SpecHash) != node.Spec.Labels[Labels.SpecHash];
        return (outdated ? ContainerState.Outdated : ContainerState.Running, null);
    }
}
