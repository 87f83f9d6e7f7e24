using System.Collections.Concurrent;
using ControlPlane.Api.Runtime;
using ControlPlane.Domain.Planning;

namespace ControlPlane.Api.Reconciliation;

/// <summary>
/// The pass's one listing per zone, plus what this pass itself started or removed since, so a
/// group's convergence does not list containers again after each step.
/// </summary>
public sealed class ContainerView(
    IReadOnlyDictionary<string, IReadOnlyList<ContainerInfo>?> byZone, IReadOnlySet<string>? zonesDownPastGrace = null, ContainerDeaths? deaths = null)
{
    public IReadOnlySet<string> ZonesUnreachable { get; } = byZone.Where(z => z.Value is null).Select(z => z.Key).ToHashSet();

    /// <summary>Zones whose engine has not answered for longer than the grace: replacements go elsewhere.</summary>
    public IReadOnlySet<string> ZonesDown { get; } = zonesDownPastGrace ?? new HashSet<string>();

    private readonly ConcurrentDictionary<string, (ContainerState State, long? ExitCode, string? ContainerId)> _changed = new();
    private readonly ConcurrentDictionary<string, bool> _confirmed = new();
    private readonly ConcurrentDictionary<(string Zone, string Name), ContainerInfo?> _relisted = new();

    public IReadOnlyDictionary<string, IReadOnlyList<ContainerInfo>?> ByZone => byZone;

    // Every node of every group is looked up in its zone's listing on every full pass: by name and by
    // node label, indexed once, not searched (3,000 nodes searching 1,000-container listings was a
    // pass's largest cost). The first of a label in the listing wins, as a search would find it.
    private readonly Dictionary<string, (Dictionary<string, ContainerInfo> ByName, Dictionary<string, ContainerInfo> ByNode)> _index =
        byZone.Where(z => z.Value is not null).ToDictionary(z => z.Key, z => Index(z.Value!), StringComparer.Ordinal);

    private static (Dictionary<string, ContainerInfo>, Dictionary<string, ContainerInfo>) Index(IReadOnlyList<ContainerInfo> containers)
    {
        var (byName, byNode) = (new Dictionary<string, ContainerInfo>(StringComparer.Ordinal), new Dictionary<string, ContainerInfo>(StringComparer.Ordinal));
        foreach (var container in containers)
        {
            byName.TryAdd(container.Name, container);
            if (container.Labels.GetValueOrDefault(Labels.Node) is { } node)
                byNode.TryAdd(node, container);
        }
        return (byName, byNode);
    }

    public void Started(string nodeId, string? containerId = null) => _changed[nodeId] = (ContainerState.Running, null, containerId);

    public void Removed(string nodeId) => _changed[nodeId] = (ContainerState.Missing, null, null);

    /// <summary>What a second look at one container found; it is not looked at again in this pass.</summary>
    public void Seen(string nodeId, ContainerState state, long? exitCode, string? containerId)
    {
        _changed[nodeId] = (state, exitCode, containerId);
        _confirmed[nodeId] = true;
    }

    public bool Confirmed(string nodeId) => _confirmed.ContainsKey(nodeId);

    /// <summary>
    /// What a second look at one container found: its listing entry may predate a change another control
    /// plane made (a reboot gives the node a new container). Named, Running and StateOf answer from it
    /// for the rest of the pass.
    /// </summary>
    public void Relisted(string zone, string name, ContainerInfo? container) => _relisted[(zone, name)] = container;

    public bool WasRelisted(string zone, string name) => _relisted.ContainsKey((zone, name));

    /// <summary>Whether the zone's engine answered this pass's listing.</summary>
    public bool Listed(string zone) => _index.ContainsKey(zone);

    /// <summary>The listed container of that name in the zone; null when the zone did not answer or has none.</summary>
    public ContainerInfo? Named(string zone, string name) => _relisted.TryGetValue((zone, name), out var relisted)
        ? relisted
        : _index.GetValueOrDefault(zone).ByName?.GetValueOrDefault(name);

    /// <summary>The listed container of that name in the zone when it runs; null otherwise.</summary>
    public ContainerInfo? Running(string zone, string name) => Named(zone, name) is { Running: true } container ? container : null;

    /// <summary>The id of the container running the node as far as this pass knows it; null when not known yet.</summary>
    public string? ContainerIdOf(NodePlace node) => _changed.TryGetValue(node.NodeId, out var changed)
        ? changed.ContainerId
        : Running(node.Zone, node.ContainerName)?.Id;

    private readonly ConcurrentDictionary<string, string> _endpoints = new();

    /// <summary>The spec hash of the endpoint proxy this pass started for a group, if any.</summary>
    public string? EndpointRunning(string groupId) => _endpoints.GetValueOrDefault(groupId);

    public void EndpointStarted(string groupId, string specHash) => _endpoints[groupId] = specHash;

    public (ContainerState State, long? ExitCode) StateOf(NodePlace node)
    {
        // A die event is newer than whatever was listed or looked at before it.
        if (_changed.TryGetValue(node.NodeId, out var changed))
            return changed.State == ContainerState.Running && changed.ContainerId is { } id && deaths?.HasDied(id) == true
                ? (ContainerState.Exited, null)
                : (changed.State, changed.ExitCode);
        if (!_index.TryGetValue(node.Zone, out var containers))
            return (ContainerState.ZoneUnreachable, null);
        // A node that took a pool container is found by that container's name; its spec is the pool's.
        var container = _relisted.TryGetValue((node.Zone, node.ContainerName), out var relisted) ? relisted
            : node.FromPool ? containers.ByName.GetValueOrDefault(node.ContainerName)
            : containers.ByNode.GetValueOrDefault(node.NodeId);
        if (container is null)
            return (ContainerState.Missing, null);
        // A paused container is alive to Docker but answers nothing: the probes judge it, like any hung node.
        // One created but never started (its starter died in between), or on its way out, never ran
        // as this node: it is started afresh, not taken for a node that exited.
        if (!container.Running && container.State is "created" or "removing")
            return (ContainerState.Missing, null);
        if ((!container.Running && container.State != "paused") || deaths?.HasDied(container.Id) == true)
            return (ContainerState.Exited, container.ExitCode);
        var outdated = !node.FromPool && node.Spec is not null && container.Labels.GetValueOrDefault(Labels.SpecHash) != node.Spec.Labels[Labels.SpecHash];
        return (outdated ? ContainerState.Outdated : ContainerState.Running, null);
    }
}
