using ControlPlane.Api.Engines;
using ControlPlane.Api.Runtime;
using Microsoft.Extensions.Logging.Abstractions;
using StackExchange.Redis;

namespace ControlPlane.Runtime.Tests.Infrastructure;

/// <summary>
/// A test that runs real nodes. Its containers carry a group label of their own, so tests run in
/// parallel without seeing each other's, and every one of them is removed at the end.
/// </summary>
public abstract class NodeTest : IAsyncLifetime
{
    private readonly Dictionary<char, DockerNodeRuntime> _zones = [];
    private readonly CancellationTokenSource _timeout = new(TimeSpan.FromMinutes(2));

    /// <summary>Unique per test; also the prefix of its container names.</summary>
    protected string Group { get; } = $"cpt-{Guid.NewGuid():N}"[..16];

    /// <summary>Ends a test that hangs instead of the whole run.</summary>
    protected CancellationToken Ct => _timeout.Token;

    protected RedisAdmin Redis { get; } = new(NullLogger<RedisAdmin>.Instance);

    protected MemcachedAdmin Memcached { get; } = new();

    protected const string Loopback = "127.0.0.1";

    /// <summary>How long a node may take to start, sync or converge.</summary>
    protected static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    /// <summary>The runtime of zone "a", "b" or "c".</summary>
    protected DockerNodeRuntime Zone(char zone)
    {
        lock (_zones)
        {
            if (!_zones.TryGetValue(zone, out var runtime))
            {
                runtime = new DockerNodeRuntime($"az-{zone}", DockerEnvironment.Endpoint(zone), TimeProvider.System,
                    NullLogger<DockerNodeRuntime>.Instance);
                _zones[zone] = runtime;
            }
            return runtime;
        }
    }

    protected ContainerSpec RedisSpec(string node, int port, bool cluster = false)
    {
        List<string> command =
        [
            "redis-server", "--port", $"{port}", "--bind", Loopback, "--protected-mode", "no",
            "--save", "", "--appendonly", "no", "--dir", "/data",
        ];
        if (cluster)
            command.AddRange(["--cluster-enabled", "yes", "--cluster-config-file", $"nodes-{port}.conf"]);
        return new ContainerSpec($"{Group}-{node}", DockerEnvironment.RedisImage, command, NodeLabels("redis", node, port),
            MemoryBytes: 256L << 20, Cpus: 0.5);
    }

    protected ContainerSpec MemcachedSpec(string node, int port, int memoryMiB = 64) =>
        new($"{Group}-{node}", DockerEnvironment.MemcachedImage,
            ["memcached", "-p", $"{port}", "-l", Loopback, "-U", "0", "-u", "nobody", "-m", $"{memoryMiB}"],
            NodeLabels("memcached", node, port), MemoryBytes: (memoryMiB + 64L) << 20, Cpus: 0.5);

    /// <summary>The slots of three masters as redis-cli --cluster create splits them.</summary>
    protected static readonly (int Start, int End)[] EvenSplit = [(0, 5460), (5461, 10922), (10923, 16383)];

    /// <summary>Cluster-enabled masters, one per (zone, node), met, with the even split of slots, all seeing cluster_state:ok.</summary>
    protected async Task<int[]> StartClusterAsync(params (char Zone, string Node)[] members)
    {
        var ports = members.Select(_ => FreePorts.Next()).ToArray();
        for (var i = 0; i < members.Length; i++)
            await Zone(members[i].Zone).RunAsync(RedisSpec(members[i].Node, ports[i], cluster: true), Ct);
        await UntilAnsweringAsync(ports);

        foreach (var peer in ports.Skip(1))
            await Redis.ClusterMeetAsync(Loopback, ports[0], Loopback, peer, Ct);
        for (var i = 0; i < ports.Length; i++)
            await Redis.ClusterAddSlotsRangeAsync(Loopback, ports[i], [EvenSplit[i]], Ct);

        foreach (var port in ports)
        {
            await Eventually.UntilAsync(() => Redis.ClusterInfoAsync(Loopback, port, Ct),
                info => info.GetValueOrDefault("cluster_state") == "ok" && info.GetValueOrDefault("cluster_known_nodes") == $"{ports.Length}",
                Deadline, $"cluster_state:ok on {port}");
        }
        return ports;
    }

    /// <summary>Waits until every Redis node answers a probe and has finished loading.</summary>
    protected async Task UntilAnsweringAsync(params int[] ports)
    {
        foreach (var port in ports)
            await Eventually.UntilAsync(() => Redis.ProbeAsync(Loopback, port, Ct), s => s is { Loading: false }, Deadline, $"answering on {port}");
    }

    /// <summary>A data command on exactly that node, as a client would send it (not through the admin connection).</summary>
    protected static async Task<RedisResult> DataCommandAsync(int port, string command, params object[] args)
    {
        await using var connection = await ConnectionMultiplexer.ConnectAsync(new ConfigurationOptions { EndPoints = { { Loopback, port } } });
        return await connection.GetServer(Loopback, port).ExecuteAsync(command, args);
    }

    public virtual Task InitializeAsync() => Task.CompletedTask;

    public virtual async Task DisposeAsync()
    {
        // The test's own token may be what ended it; cleaning up gets its own deadline.
        using var cleanup = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        List<DockerNodeRuntime> runtimes;
        lock (_zones)
            runtimes = [.. _zones.Values];
        foreach (var runtime in runtimes)
        {
            foreach (var container in await runtime.ListAsync(cleanup.Token))
            {
                if (container.Labels.GetValueOrDefault(Labels.Group) == Group)
                    await runtime.RemoveAsync(container.Id, cleanup.Token);
            }
            runtime.Dispose();
        }
        await Redis.DisposeAsync();
        _timeout.Dispose();
    }

    private Dictionary<string, string> NodeLabels(string kind, string node, int port) => new()
    {
        [Labels.Managed] = "true",
        [Labels.Kind] = kind,
        [Labels.Group] = Group,
        [Labels.Node] = node,
        [Labels.Port] = $"{port}",
        [Labels.SpecHash] = "test",
    };
}
