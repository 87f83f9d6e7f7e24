using ControlPlane.Api.Engines;
using ControlPlane.Api.Runtime;
using ControlPlane.Domain;

namespace ControlPlane.Api.Reconciliation;

/// <summary>
/// Reboots one node in place: the same node id, port and endpoint. Its container restarts (docker
/// restart) when nothing about it changed; when its start-up options did (pending-reboot parameters,
/// an outdated command line) a new container takes the node's place, given the files the node needs
/// to be itself again: its cluster configuration (its cluster node id and its primary) and, for a
/// node saved before the reboot, its data. Returns once the engine answers again; a replica then
/// resyncs from its primary (the planner waits for that before the next step).
/// </summary>
public sealed partial class NodeReboots(
    ZoneRegistry zones, IRedisAdmin redis, IMemcachedAdmin memcached, Observer observer, ContainerDeaths deaths,
    ParameterState parameters, ClientAccessApplier clientAccess, TimeProvider time, ILogger<NodeReboots> logger)
{
    /// <summary>How long a restarted engine may take to answer again (loading its data included).</summary>
    private static readonly TimeSpan BackTimeout = TimeSpan.FromSeconds(60);

    /// <summary>How long a node that keeps its data may take to save it.</summary>
    private static readonly TimeSpan SaveTimeout = TimeSpan.FromSeconds(60);

    private static readonly TimeSpan WaitStep = TimeSpan.FromMilliseconds(100);

    /// <summary>Restarts the node; keepData: no replica holds its data, so writes pause and it is saved first, then loaded again.</summary>
    public async Task RestartAsync(NodePlace node, bool keepData, ContainerView view, CancellationToken ct)
    {
        var runtime = zones[node.Zone].Runtime;
        var spec = node.Spec ?? throw new InvalidOperationException($"Node {node.NodeId} has no port yet.");
        var (host, port) = (node.Host!, node.Port!.Value);
        var container = await runtime.FindAsync(node.ContainerName, ct)
            ?? throw new InvalidOperationException($"Node {node.NodeId} has no container to reboot.");
        var isRedis = spec.Labels[Labels.Kind] == Catalog.Redis;
        var fresh = container.Labels.GetValueOrDefault(Labels.SpecHash) != spec.Labels[Labels.SpecHash]
            || container.Labels.GetValueOrDefault(NodeSpecs.ParametersLabel) != spec.Labels.GetValueOrDefault(NodeSpecs.ParametersLabel);
        if (isRedis && keepData)
        {
            // Nothing is acknowledged after the save: writes wait (and fail once the engine stops).
            await redis.PauseWritesAsync(host, port, BackTimeout, ct);
            await redis.SaveAsync(host, port, SaveTimeout, ct);
        }

        string containerId;
        if (!fresh)
        {
            // The start-once guard lets the container start again only with the token of its last start.
            var files = isRedis ? new Dictionary<string, string> { [NodeSpecs.RebootMarker] = await ReadTextAsync(runtime, node.ContainerName, NodeSpecs.StartedMarker, ct) } : null;
            await runtime.RestartAsync(container.Id, files, ct);
            containerId = container.Id;
        }
        else
        {
            var carried = isRedis ? await CarryAsync(runtime, node.ContainerName, [$"/data/nodes-{port}.conf", .. keepData ? new[] { IRedisAdmin.DumpPath } : []], ct) : [];
            try
            {
                await runtime.RemoveAsync(container.Id, ct);
                containerId = await runtime.RunAsync(spec with
                {
                    Seeds = carried.Select(c => new SeedFile(c.Path, _ => Task.FromResult<Stream>(File.OpenRead(c.Temp)))).ToList(),
                }, ct);
            }
            finally
            {
                foreach (var (_, temp) in carried)
                    File.Delete(temp);
            }
        }
        LogRebooted(logger, node.NodeId, fresh ? "a new container" : "its container, restarted");
        view.Started(node.NodeId, containerId);
        observer.Forget(node);
        parameters.Restarted(node.NodeId, containerId, spec.Labels.GetValueOrDefault(NodeSpecs.ParametersLabel));
        clientAccess.Restarted(node.NodeId);
        if (isRedis)
            await redis.DisconnectAsync(host, port);
        await UntilBackAsync(node, isRedis, containerId, ct);
    }

    /// <summary>Until the engine answers (not loading) and its container's start was heard after its death.</summary>
    private async Task UntilBackAsync(NodePlace node, bool isRedis, string containerId, CancellationToken ct)
    {
        var deadline = time.GetUtcNow() + BackTimeout;
        while (true)
        {
            var answers = isRedis
                ? await redis.ProbeAsync(node.Host!, node.Port!.Value, ct) is { Loading: false }
                : await memcached.VersionAsync(node.Host!, node.Port!.Value, ct) is not null;
            if (answers && !deaths.HasDied(containerId))
                return;
            if (time.GetUtcNow() > deadline)
                throw new TimeoutException($"Node {node.NodeId} did not answer within {BackTimeout} of its reboot.");
            await Task.Delay(WaitStep, time, ct);
        }
    }

    private static async Task<string> ReadTextAsync(INodeRuntime runtime, string container, string path, CancellationToken ct)
    {
        await using var stream = await runtime.ReadFileAsync(container, path, ct);
        using var reader = new StreamReader(stream);
        return await reader.ReadToEndAsync(ct);
    }

    /// <summary>The files of the old container the new one starts with, each copied to a temporary file first (the old container goes before the new one is made).</summary>
    private static async Task<List<(string Path, string Temp)>> CarryAsync(INodeRuntime runtime, string container, IEnumerable<string> paths, CancellationToken ct)
    {
        var carried = new List<(string, string)>();
        foreach (var path in paths)
        {
            var temp = Path.GetTempFileName();
            try
            {
                await using var source = await runtime.ReadFileAsync(container, path, ct);
                await using var target = File.Create(temp);
                await source.CopyToAsync(target, ct);
                carried.Add((path, temp));
            }
            catch (FileNotFoundException)
            {
                File.Delete(temp);
            }
        }
        return carried;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Node {NodeId} rebooted in place with {How}")]
    private static partial void LogRebooted(ILogger logger, string nodeId, string how);
}
