using System.Globalization;
using System.Threading.Channels;
using ControlPlane.Api.Runtime;

namespace ControlPlane.Api.World.InMemory;

/// <summary>
/// Container hosts and the engines they run, in memory, on one clock: what the reconciler talks to
/// when ControlPlane:World is "memory". A started container becomes a node listening on the port of
/// its command line (redis-server/valkey-server --port, memcached -p); anything else (the endpoint
/// proxy) runs with nothing listening. Faults are the test's to inject: a container that dies, a
/// node that hangs, a node slow to start, a zone whose engine does not answer.
/// One lock guards everything: every call is short, and nothing in here waits while holding it.
/// </summary>
public sealed class MemoryWorld(TimeProvider time, int seed = 1)
{
    internal readonly Lock Gate = new();
    private readonly Dictionary<string, MemoryZone> _zones = new(StringComparer.Ordinal);
    private readonly Dictionary<string, EngineProcess> _listening = new(StringComparer.Ordinal);
    private readonly Random _random = new(seed);
    private long _containers;

    /// <summary>Every cluster node id ever started, by id; an exited node stays, as its peers remember it until forgotten.</summary>
    internal Dictionary<string, RedisProcess> ClusterPeers { get; } = new(StringComparer.Ordinal);

    /// <summary>Replicas by the address they replicate from.</summary>
    internal Dictionary<string, HashSet<RedisProcess>> Followers { get; } = new(StringComparer.Ordinal);

    public TimeProvider Time => time;

    /// <summary>How long a started container takes before its port answers (a slow start); nothing by default.</summary>
    public TimeSpan StartDelay { get; set; }

    /// <summary>How long a replica's full sync takes once its primary answers.</summary>
    public TimeSpan SyncDelay { get; set; } = TimeSpan.FromMilliseconds(100);

    /// <summary>How long every engine command and heartbeat takes to be answered (slow nodes, slow probes); nothing by default.</summary>
    public TimeSpan CommandLatency { get; set; }

    /// <summary>
    /// Called under the lock before every call the control plane makes into the world (a runtime call,
    /// an engine command, a heartbeat, a slot move), with the call's name. The simulation tests count
    /// the calls with it and inject a fault at the k-th: it may change the world (it holds the lock)
    /// or throw, and the call then fails with that exception.
    /// </summary>
    public Action<string>? BeforeCall { get; set; }

    internal void Called(string call) => BeforeCall?.Invoke(call);

    /// <summary>CLUSTER NODES answered so far, by every node: what watching a cluster costs grows with them.</summary>
    public long ClusterNodesReads { get; internal set; }

    /// <summary>The engine of the zone; the zone exists from its first mention.</summary>
    public MemoryNodeRuntime Runtime(string zone)
    {
        lock (Gate)
            return ZoneOf(zone).Runtime;
    }

    // ---- Faults ----

    /// <summary>The container's process exits (default: killed, 137); the engine reports "die". False when it was not running.</summary>
    public bool Kill(string containerName, long exitCode = 137)
    {
        lock (Gate)
        {
            var container = _zones.Values.SelectMany(z => z.Containers.Values).FirstOrDefault(c => c.Name == containerName && c.Running);
            if (container is null)
                return false;
            Exit(container, exitCode);
            return true;
        }
    }

    /// <summary>The node stops answering (a SIGSTOP, a busy loop) but its container keeps running; <see cref="Resume"/> ends it.</summary>
    public void Hang(string containerName) => WithProcess(containerName, p =>
    {
        (p as RedisProcess)?.SettleFollowers();
        p.Hung = true;
    });

    public void Resume(string containerName) => WithProcess(containerName, p => p.Hung = false);

    /// <summary>The zone's container engine stops answering (its nodes run on, and answer, unless hung too).</summary>
    public void SetZoneAnswering(string zone, bool answering)
    {
        lock (Gate)
        {
            var z = ZoneOf(zone);
            z.Answering = answering;
            if (!answering)
                z.CloseEventStreams(new ZoneUnreachableException(zone, $"Zone {zone}: the container engine does not answer."));
        }
    }

    // ---- What a test may look at ----

    /// <summary>Every container of every zone, as the engines hold them now.</summary>
    public IReadOnlyList<(string Zone, ContainerInfo Container)> Containers()
    {
        lock (Gate)
            return _zones.Values.SelectMany(z => z.Containers.Values.Select(c => (z.Name, c.Info()))).ToList();
    }

    /// <summary>The Redis node listening at host:port, or null; for tests that look inside (roles, slots).</summary>
    public RedisProcess? Redis(string host, int port)
    {
        lock (Gate)
            return Listening(host, port) as RedisProcess;
    }

    /// <summary>Adds keys to a primary (its offset moves with them), as clients writing would.</summary>
    public void Write(string host, int port, long keys)
    {
        lock (Gate)
        {
            if (Listening(host, port) is RedisProcess { Role: Engines.RedisRole.Master } primary)
                primary.Write(keys);
        }
    }

    // ---- For the runtime and the engine fakes (under Gate) ----

    internal MemoryZone ZoneOf(string zone)
    {
        if (!_zones.TryGetValue(zone, out var z))
            _zones[zone] = z = new MemoryZone(zone, this);
        return z;
    }

    internal IEnumerable<MemoryZone> Zones => _zones.Values;

    internal string NewContainerId() =>
        $"{Interlocked.Increment(ref _containers):x8}{_random.NextInt64():x16}".PadRight(64, '0');

    internal string NewClusterId()
    {
        Span<byte> bytes = stackalloc byte[20];
        _random.NextBytes(bytes);
        return Convert.ToHexStringLower(bytes);
    }

    /// <summary>The process listening at host:port that has finished starting, or null (connection refused).</summary>
    internal EngineProcess? Listening(string host, int port) =>
        _listening.GetValueOrDefault(Address(host, port)) is { } p && time.GetUtcNow() >= p.ListeningFrom ? p : null;

    internal IEnumerable<EngineProcess> AllListening => _listening.Values;

    /// <summary>Starts the container's process; one whose port is taken exits at once, as the engine would (bind: address in use).</summary>
    internal void Start(MemoryContainer container)
    {
        container.State = "running";
        container.ExitCode = null;
        container.Zone.Publish("start", container);
        var process = EngineProcess.From(container, this);
        if (process is null)
            return;
        var address = Address(process.Host, process.Port);
        if (_listening.ContainsKey(address))
        {
            Exit(container, 1);
            return;
        }
        container.Process = process;
        _listening[address] = process;
        // A node starts with the keys of the dump file in its data folder, as Redis loads it.
        if (process is RedisProcess redis && container.Files.GetValueOrDefault(Engines.IRedisAdmin.DumpPath) is { } dump)
            redis.Load(dump);
    }

    /// <summary>BGSAVE: the node's keys, in this world's own dump format, into the dump file of its container.</summary>
    internal void Save(RedisProcess process)
    {
        var container = _zones.Values.SelectMany(z => z.Containers.Values).First(c => c.Process == process);
        container.Files[Engines.IRedisAdmin.DumpPath] = RedisProcess.Dump(process.Keys);
    }

    internal void Exit(MemoryContainer container, long exitCode)
    {
        (container.Process as RedisProcess)?.SettleFollowers();
        Stop(container);
        container.State = "exited";
        container.ExitCode = exitCode;
        container.Zone.Publish("die", container);
    }

    private void Stop(MemoryContainer container)
    {
        if (container.Process is { } process)
        {
            if (_listening.GetValueOrDefault(Address(process.Host, process.Port)) == process)
                _listening.Remove(Address(process.Host, process.Port));
            process.Exited(time.GetUtcNow());
            container.Process = null;
        }
    }

    internal DateTimeOffset Now => time.GetUtcNow();

    private void WithProcess(string containerName, Action<EngineProcess> change)
    {
        lock (Gate)
        {
            var container = _zones.Values.SelectMany(z => z.Containers.Values).FirstOrDefault(c => c.Name == containerName)
                ?? throw new InvalidOperationException($"No container {containerName}.");
            change(container.Process ?? throw new InvalidOperationException($"Container {containerName} has no running engine."));
        }
    }

    internal static string Address(string host, int port) => string.Create(CultureInfo.InvariantCulture, $"{host}:{port}");
}

/// <summary>One zone's engine: its containers and the event streams open on it.</summary>
internal sealed class MemoryZone
{
    private readonly List<Channel<ContainerEvent>> _streams = [];

    public MemoryZone(string name, MemoryWorld world)
    {
        Name = name;
        World = world;
        Runtime = new MemoryNodeRuntime(name, world);
    }

    public string Name { get; }
    public MemoryWorld World { get; }
    public MemoryNodeRuntime Runtime { get; }
    public bool Answering { get; set; } = true;

    /// <summary>By container id.</summary>
    public Dictionary<string, MemoryContainer> Containers { get; } = new(StringComparer.Ordinal);

    public ChannelReader<ContainerEvent> Subscribe()
    {
        var channel = Channel.CreateUnbounded<ContainerEvent>(new UnboundedChannelOptions { SingleReader = true });
        _streams.Add(channel);
        return channel.Reader;
    }

    public void Unsubscribe(ChannelReader<ContainerEvent> reader) => _streams.RemoveAll(c => c.Reader == reader);

    public void Publish(string action, MemoryContainer container)
    {
        var change = new ContainerEvent(Name, action, container.Id, container.Spec.Labels);
        foreach (var stream in _streams)
            stream.Writer.TryWrite(change);
    }

    public void CloseEventStreams(Exception reason)
    {
        foreach (var stream in _streams)
            stream.Writer.TryComplete(reason);
        _streams.Clear();
    }
}

/// <summary>A container as one zone's engine holds it.</summary>
internal sealed class MemoryContainer(string id, MemoryZone zone, ContainerSpec spec)
{
    public string Id { get; } = id;
    public string Name => Spec.Name;
    public MemoryZone Zone { get; } = zone;
    public ContainerSpec Spec { get; } = spec;
    public string State { get; set; } = "created";
    public long? ExitCode { get; set; }
    public bool Running => State == "running";
    public EngineProcess? Process { get; set; }

    /// <summary>Text files written into it (spec files, certificates, a reboot's configuration).</summary>
    public Dictionary<string, string> Files { get; } = new(StringComparer.Ordinal);

    public ContainerInfo Info() => new(Id, Name, Spec.Labels, Running, State, ExitCode);
}
