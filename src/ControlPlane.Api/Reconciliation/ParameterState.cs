using System.Collections.Concurrent;
using ControlPlane.Api.Runtime;
using ControlPlane.Domain;
using ControlPlane.Domain.Parameters;
using ControlPlane.Domain.Planning;

namespace ControlPlane.Api.Reconciliation;

/// <summary>
/// What the reconciler knows of each node's parameters besides its row, in this process: which of its
/// containers its parameter group's immediate values were set on (one CONFIG SET per node through the
/// control plane's own connection, so also on Valkey and Redis, whatever the users' ACLs allow), which
/// values a node refused and when, and what a rebooted node's new container started with until a
/// listing shows it. The planner decides from it (<see cref="NodeParameters"/>); the SetParameters
/// handler records here what it set.
/// </summary>
public sealed class ParameterState(Catalog catalog)
{
    /// <summary>Per node: the container and the immediate values (fingerprint and memory) last set on it.</summary>
    private readonly ConcurrentDictionary<string, string> _applied = new();

    /// <summary>Per node: the same, for the values it last refused, and when.</summary>
    private readonly ConcurrentDictionary<string, (string Key, DateTimeOffset At)> _refused = new();

    /// <summary>Per node rebooted in this process: the container it runs now and the start-up values it was given, until a listing shows that container.</summary>
    private readonly ConcurrentDictionary<string, (string ContainerId, string? Fingerprint)> _rebooted = new();

    /// <summary>
    /// Where each node given (available, with an address) whose container runs per the pass's listing stands
    /// with its parameter group's values, and, for a Redis node, the immediate values it is to have.
    /// Nodes whose container does not run are left out: nothing is set on, or told of, a node that is not there.
    /// </summary>
    public IReadOnlyDictionary<string, (NodeParameters Node, ImmediateValues? Immediate)> Observe(string family, bool cluster,
        IReadOnlyDictionary<string, string> values, IEnumerable<(NodePlace Place, string NodeType, string? Status)> nodes, ContainerView view)
    {
        // Memcached's parameters are all start-up options: a node is in sync or pending-reboot.
        var immediate = ParameterCatalog.IsRedisLike(family) ? ParameterCatalog.Fingerprint(family, values, ChangeType.Immediate) : null;
        var startup = ParameterCatalog.Fingerprint(family, values, ChangeType.RequiresReboot);
        var observed = new Dictionary<string, (NodeParameters, ImmediateValues?)>();
        foreach (var (place, nodeType, status) in nodes)
        {
            if (view.Running(place.Zone, place.ContainerName) is not { } container)
                continue;
            var wanted = immediate is null ? null
                : new ImmediateValues(family, values, (catalog.NodeTypes.FirstOrDefault(t => t.Name == nodeType)?.MemoryMiB ?? 0) * 1024L * 1024L, container.Id, immediate);
            var set = wanted is null || _applied.GetValueOrDefault(place.NodeId) == wanted.Key;
            DateTimeOffset? refused = wanted is not null && _refused.TryGetValue(place.NodeId, out var r) && r.Key == wanted.Key ? r.At : null;
            var started = StartedWith(place.NodeId, container) ?? DefaultStartup(family, cluster);
            observed[place.NodeId] = (new NodeParameters(set, started == startup, status, refused), wanted);
        }
        return observed;
    }

    /// <summary>The node holds these immediate values now.</summary>
    public void Applied(string nodeId, ImmediateValues values)
    {
        _applied[nodeId] = values.Key;
        _refused.TryRemove(nodeId, out _);
    }

    /// <summary>The node refused these immediate values: the planner asks again a while later, and says applying meanwhile.</summary>
    public void Refused(string nodeId, ImmediateValues values, DateTimeOffset at) => _refused[nodeId] = (values.Key, at);

    /// <summary>
    /// The node's engine restarted (a reboot): it runs its command line's values until the immediate
    /// ones are set again, and its container (maybe a new one) started with these start-up values.
    /// </summary>
    public void Restarted(string nodeId, string containerId, string? startup)
    {
        _applied.TryRemove(nodeId, out _);
        _refused.TryRemove(nodeId, out _);
        _rebooted[nodeId] = (containerId, startup);
    }

    /// <summary>What the node's container started with: the listing's label, unless a reboot since made another container than the one listed.</summary>
    private string? StartedWith(string nodeId, ContainerInfo listed)
    {
        if (_rebooted.TryGetValue(nodeId, out var rebooted))
        {
            if (rebooted.ContainerId != listed.Id)
                return rebooted.Fingerprint;
            _rebooted.TryRemove(nodeId, out _);
        }
        return listed.Labels.GetValueOrDefault(NodeSpecs.ParametersLabel);
    }

    /// <summary>A container without the label (a warm-pool one, or one of an older control plane) started with the defaults.</summary>
    private static string DefaultStartup(string family, bool cluster)
    {
        var name = ParameterCatalog.DefaultGroupFor(family, cluster);
        return ParameterCatalog.Fingerprint(family, ParameterCatalog.Effective(family, ParameterCatalog.DefaultGroupOverrides(name)), ChangeType.RequiresReboot);
    }
}
