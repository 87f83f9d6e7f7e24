using System.Collections.Concurrent;
using ControlPlane.Api.Data;
using ControlPlane.Api.Engines;
using ControlPlane.Api.Parameters;
using ControlPlane.Domain;
using ControlPlane.Domain.Parameters;

namespace ControlPlane.Api.Reconciliation;

/// <summary>
/// Brings a group's nodes to its parameter group's values on every reconciler pass: the immediate ones
/// with one CONFIG SET per node through the control plane's own connection (so also on Valkey and
/// Redis, whatever the users' ACLs allow), the start-up ones by comparing what each container was
/// started with (its parameters label) and saying pending-reboot until it is replaced. Each node's
/// parameterGroupStatus is stored for the API.
/// </summary>
public sealed partial class ParameterApplier(IRedisAdmin redis, Catalog catalog, NodeSpecs specs, ILogger<ParameterApplier> logger)
{
    /// <summary>Per node: the container and the immediate values (fingerprint and memory) last set on it.</summary>
    private readonly ConcurrentDictionary<string, string> _applied = new();

    public async Task ApplyAsync(ControlPlaneDbContext db, ReplicationGroupEntity group, IReadOnlyDictionary<string, string> values, ContainerView view, CancellationToken ct)
    {
        var family = Catalog.Family(group.Engine, group.EngineVersion);
        var cluster = group.ClusterMode == ClusterMode.Enabled;
        var wanted = ParameterCatalog.Fingerprint(family, values, ChangeType.Immediate);
        var startup = ParameterCatalog.Fingerprint(family, values, ChangeType.RequiresReboot);
        var changed = false;
        foreach (var node in group.Shards.SelectMany(s => s.Nodes).Where(n => n.Status == NodeStatus.Available && n.Host is not null && n.Port is not null))
        {
            var container = view.Running(node.AvailabilityZone, specs.ContainerName(node.PoolId ?? node.Id));
            if (container is null)
                continue;
            var memory = (catalog.NodeTypes.FirstOrDefault(t => t.Name == node.NodeType)?.MemoryMiB ?? 0) * 1024L * 1024L;
            var key = $"{container.Id}|{wanted}|{memory}";
            if (_applied.GetValueOrDefault(node.Id) != key)
            {
                try
                {
                    await redis.ConfigSetAsync(node.Host!, node.Port!.Value, ParameterCatalog.OnlineSettings(family, values, memory), ct);
                    _applied[node.Id] = key;
                    LogApplied(logger, node.Id, wanted);
                }
                catch (Exception e) when (e is EngineException or TimeoutException or InvalidOperationException)
                {
                    LogApplyFailed(logger, node.Id, e.Message);
                }
            }
            var started = StartedWith(node.Id, container) ?? DefaultStartup(family, cluster);
            var status = started != startup ? ParameterStatus.PendingReboot
                : _applied.GetValueOrDefault(node.Id) == key ? null
                : ParameterStatus.Applying;
            if (node.ParameterGroupStatus != status)
            {
                node.ParameterGroupStatus = status;
                changed = true;
            }
        }
        if (changed)
            await db.SaveChangesAsync(ct);
    }

    /// <summary>Per node rebooted in this process: the container it runs now and the start-up values it was given, until a listing shows that container.</summary>
    private readonly ConcurrentDictionary<string, (string ContainerId, string? Fingerprint)> _rebooted = new();

    /// <summary>
    /// The node's engine restarted (a reboot): it runs its command line's values until the immediate
    /// ones are set again, and its container (maybe a new one) started with these start-up values.
    /// </summary>
    public void Restarted(string nodeId, string containerId, string? startup)
    {
        _applied.TryRemove(nodeId, out _);
        _rebooted[nodeId] = (containerId, startup);
    }

    /// <summary>What the node's container started with: the listing's label, unless a reboot since made another container than the one listed.</summary>
    private string? StartedWith(string nodeId, Runtime.ContainerInfo listed)
    {
        if (_rebooted.TryGetValue(nodeId, out var rebooted))
        {
            if (rebooted.ContainerId != listed.Id)
                return rebooted.Fingerprint;
            _rebooted.TryRemove(nodeId, out _);
        }
        return listed.Labels.GetValueOrDefault(NodeSpecs.ParametersLabel);
    }

    /// <summary>Memcached's parameters are all start-up options: a node is in sync or pending-reboot.</summary>
    public async Task MarkAsync(ControlPlaneDbContext db, CacheClusterEntity cluster, IReadOnlyDictionary<string, string> values, ContainerView view, CancellationToken ct)
    {
        var family = Catalog.Family(cluster.Engine, cluster.EngineVersion);
        var startup = ParameterCatalog.Fingerprint(family, values, ChangeType.RequiresReboot);
        var changed = false;
        foreach (var node in cluster.Nodes.Where(n => n.Status == NodeStatus.Available))
        {
            var container = view.Running(node.AvailabilityZone, specs.ContainerName(node.Id));
            if (container is null)
                continue;
            var started = StartedWith(node.Id, container) ?? DefaultStartup(family, false);
            var status = started != startup ? ParameterStatus.PendingReboot : null;
            if (node.ParameterGroupStatus != status)
            {
                node.ParameterGroupStatus = status;
                changed = true;
            }
        }
        if (changed)
            await db.SaveChangesAsync(ct);
    }

    /// <summary>A container without the label (a warm-pool one, or one of an older control plane) started with the defaults.</summary>
    private static string DefaultStartup(string family, bool cluster)
    {
        var name = ParameterCatalog.DefaultGroupFor(family, cluster);
        return ParameterCatalog.Fingerprint(family, ParameterCatalog.Effective(family, ParameterCatalog.DefaultGroupOverrides(name)), ChangeType.RequiresReboot);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Parameters {Fingerprint} applied to node {NodeId}")]
    private static partial void LogApplied(ILogger logger, string nodeId, string fingerprint);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Applying parameters to node {NodeId} failed: {Reason}")]
    private static partial void LogApplyFailed(ILogger logger, string nodeId, string reason);
}
