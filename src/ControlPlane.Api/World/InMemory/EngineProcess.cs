using System.Globalization;

namespace ControlPlane.Api.World.InMemory;

/// <summary>
/// The engine a container of the <see cref="MemoryWorld"/> runs, read from its command line: where
/// it listens, when it has started, whether it hangs. Every member is used under the world's lock.
/// </summary>
public abstract class EngineProcess
{
    private DateTimeOffset? _hungSince;

    private protected EngineProcess(MemoryWorld world, string containerName, string host, int port, string version, long maxMemoryBytes)
    {
        World = world;
        ContainerName = containerName;
        Host = host;
        Port = port;
        Version = version;
        MaxMemoryBytes = maxMemoryBytes;
        ListeningFrom = world.Now + world.StartDelay;
    }

    internal MemoryWorld World { get; }
    public string ContainerName { get; }
    public string Host { get; }
    public int Port { get; }
    public string Version { get; }
    public long MaxMemoryBytes { get; protected set; }

    /// <summary>The port refuses connections until then (a slow start).</summary>
    public DateTimeOffset ListeningFrom { get; }

    public bool Alive { get; private set; } = true;
    public DateTimeOffset? ExitedAt { get; private set; }

    /// <summary>Accepts connections but answers nothing.</summary>
    public bool Hung
    {
        get => _hungSince is not null;
        set => _hungSince = value ? _hungSince ?? World.Now : null;
    }

    /// <summary>Since when peers cannot reach it (exited or hung); null while it answers.</summary>
    public DateTimeOffset? DownSince => ExitedAt ?? _hungSince;

    internal virtual void Exited(DateTimeOffset now)
    {
        Alive = false;
        ExitedAt = now;
    }

    internal void LimitMemory(long bytes) => MaxMemoryBytes = bytes;

    /// <summary>The engine of the container's command line, or null when it runs none we know (the endpoint proxy).</summary>
    internal static EngineProcess? From(MemoryContainer container, MemoryWorld world)
    {
        var command = container.Spec.Command;
        var start = command.ToList().FindIndex(a => a is "redis-server" or "valkey-server" or "memcached");
        if (start < 0)
            return null;
        var args = command.Skip(start).ToList();
        // The node's own options come first (later ones, TLS's --port 0, would move the node here); where
        // the engine's rule matters, the last value counts (a longer node timeout is appended: NodeSpecs.ClusterNodeTimeout).
        string? Arg(string name, bool last = false) => (last ? args.LastIndexOf(name) : args.IndexOf(name)) is >= 0 and var i && i + 1 < args.Count ? args[i + 1] : null;
        var version = container.Spec.Image.Split(':') is [_, var tag] ? tag : "0";
        if (args[0] == "memcached")
            return new MemcachedProcess(world, container.Name, Arg("-l") ?? "127.0.0.1", Number(Arg("-p") ?? "11211"), version,
                Number(Arg("-m") ?? "64") * 1024L * 1024);
        return new RedisProcess(world, container.Name, Arg("--bind") ?? "127.0.0.1", Number(Arg("--port") ?? "6379"), version,
            long.Parse(Arg("--maxmemory") ?? "0", CultureInfo.InvariantCulture),
            cluster: Arg("--cluster-enabled") == "yes",
            nodeTimeout: TimeSpan.FromMilliseconds(Number(Arg("--cluster-node-timeout", last: true) ?? "15000")));
    }

    private static int Number(string text) => int.Parse(text, CultureInfo.InvariantCulture);
}

/// <summary>A Memcached node: it answers version and stats; it holds no items in this world.</summary>
public sealed class MemcachedProcess : EngineProcess
{
    internal MemcachedProcess(MemoryWorld world, string containerName, string host, int port, string version, long maxMemoryBytes)
        : base(world, containerName, host, port, version, maxMemoryBytes)
    {
    }

    internal IReadOnlyDictionary<string, string> Stats() => new Dictionary<string, string>
    {
        ["version"] = Version,
        ["curr_items"] = "0",
        ["bytes"] = "0",
        ["limit_maxbytes"] = MaxMemoryBytes.ToString(CultureInfo.InvariantCulture),
        ["evictions"] = "0",
        ["curr_connections"] = "1",
    };
}
