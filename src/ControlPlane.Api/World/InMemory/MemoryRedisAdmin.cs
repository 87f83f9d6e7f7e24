using ControlPlane.Api.Engines;
using ControlPlane.Api.Security;
using StackExchange.Redis;

namespace ControlPlane.Api.World.InMemory;

/// <summary>
/// <see cref="IRedisAdmin"/> on the Redis nodes of a <see cref="MemoryWorld"/>, failing as
/// <see cref="RedisAdmin"/> does: a port nobody listens on refuses and a hung node answers nothing
/// within the command timeout (EngineUnreachableException), the engine's errors come in its own words
/// (EngineRefusedException); probes give null instead. What the world does not model throws
/// NotSupportedException naming the command: CLIENT PAUSE, BGSAVE, the check of an access string, CLIENT KILL.
/// </summary>
public sealed class MemoryRedisAdmin(MemoryWorld world) : IRedisAdmin
{
    /// <summary>As <see cref="RedisAdmin"/>'s: how long a command may go unanswered.</summary>
    private static readonly TimeSpan CommandTimeout = TimeSpan.FromSeconds(2);

    public async Task<RedisNodeState?> ProbeAsync(string host, int port, CancellationToken ct)
    {
        try
        {
            return await RunAsync(host, port, node => node.State(), ct);
        }
        catch (EngineException)
        {
            return null;
        }
    }

    public async Task<IReadOnlyDictionary<string, string>?> InfoAsync(string host, int port, bool cluster, CancellationToken ct)
    {
        try
        {
            return await RunAsync(host, port, node =>
            {
                var fields = new Dictionary<string, string>(node.Info());
                if (cluster)
                    foreach (var (key, value) in node.ClusterInfo())
                        fields[key] = value;
                return (IReadOnlyDictionary<string, string>)fields;
            }, ct);
        }
        catch (EngineException)
        {
            return null;
        }
    }

    public Task ReplicaOfAsync(string host, int port, string masterHost, int masterPort, CancellationToken ct) =>
        RunAsync(host, port, node => node.ReplicaOf(masterHost, masterPort), ct);

    public Task FailoverToAsync(string host, int port, string replicaHost, int replicaPort, TimeSpan timeout, CancellationToken ct) =>
        RunAsync(host, port, node => node.FailoverTo(replicaHost, replicaPort), ct);

    public Task PromoteAsync(string host, int port, CancellationToken ct) =>
        RunAsync(host, port, node => node.PromoteToPrimary(), ct);

    public Task<string> ClusterMyIdAsync(string host, int port, CancellationToken ct) =>
        RunAsync(host, port, node => node.Cluster ? node.MyId : throw new RedisServerException(RedisErrorKind.UnknownError, CommandFlags.None, "ERR This instance has cluster support disabled"), ct);

    public Task ClusterMeetAsync(string host, int port, string peerHost, int peerPort, CancellationToken ct) =>
        RunAsync(host, port, node => node.Meet(peerHost, peerPort), ct);

    public Task ClusterMeetAsync(string host, int port, string peerHost, int peerPort, int peerBusPort, CancellationToken ct) =>
        peerBusPort == peerPort + RedisAdmin.ClusterBusOffset
            ? ClusterMeetAsync(host, port, peerHost, peerPort, ct)
            : throw new NotSupportedException("CLUSTER MEET with a bus port other than port + 10000 is not modelled by the in-memory world.");

    public Task<IReadOnlyList<ClusterNodeInfo>> ClusterNodesAsync(string host, int port, CancellationToken ct) =>
        RunAsync(host, port, node => node.ClusterNodes(), ct);

    public Task<IReadOnlyDictionary<string, string>> ClusterInfoAsync(string host, int port, CancellationToken ct) =>
        RunAsync(host, port, node => node.ClusterInfo(), ct);

    public Task ClusterAddSlotsRangeAsync(string host, int port, IEnumerable<(int Start, int End)> ranges, CancellationToken ct) =>
        RunAsync(host, port, node => node.AddSlotsRange(ranges.ToList()), ct);

    public Task ConfigSetAsync(string host, int port, string name, string value, CancellationToken ct) =>
        RunAsync(host, port, node => node.ConfigSet([(name, value)]), ct);

    public Task ConfigSetAsync(string host, int port, IReadOnlyList<(string Name, string Value)> settings, CancellationToken ct) =>
        RunAsync(host, port, node => node.ConfigSet(settings), ct);

    public Task ClusterSetConfigEpochAsync(string host, int port, long epoch, CancellationToken ct) =>
        RunAsync(host, port, node => node.SetConfigEpoch(epoch), ct);

    public Task ClusterReplicateAsync(string host, int port, string masterId, CancellationToken ct) =>
        RunAsync(host, port, node => node.Replicate(masterId), ct);

    /// <summary>No slot is ever importing or migrating in this world, so every SETSLOT STABLE finds nothing to drop, as Redis would.</summary>
    public Task ClusterSetSlotsStableAsync(string host, int port, IEnumerable<int> slots, CancellationToken ct) =>
        RunAsync(host, port, node => node.ClusterInfo(), ct);

    public Task ClusterForgetAsync(string host, int port, string nodeId, CancellationToken ct) =>
        RunAsync(host, port, node => node.Forget(nodeId), ct);

    public Task ClusterFailoverAsync(string host, int port, ClusterFailoverMode mode, CancellationToken ct) =>
        RunAsync(host, port, node => node.ClusterFailover(mode), ct);

    /// <summary>No client writes reach this world's nodes, so there is no slow command to list.</summary>
    public Task<IReadOnlyList<SlowLogEntry>> SlowLogAsync(string host, int port, int count, CancellationToken ct) =>
        RunAsync(host, port, _ => (IReadOnlyList<SlowLogEntry>)[], ct);

    /// <summary>Connections are not cached here: nothing to close.</summary>
    public ValueTask DisconnectAsync(string host, int port) => ValueTask.CompletedTask;

    public Task PauseWritesAsync(string host, int port, TimeSpan duration, CancellationToken ct) =>
        throw NotModelled("CLIENT PAUSE WRITE (reboots that keep their data)");

    public Task SaveAsync(string host, int port, TimeSpan timeout, CancellationToken ct) =>
        RunAsync(host, port, node => node.Save(), ct);

    /// <summary>The node keeps the users and their rules as given; the rules are not interpreted (no client connects in this world).</summary>
    public Task SetClientUsersAsync(string host, int port, IReadOnlyList<AclUser> users, CancellationToken ct) =>
        RunAsync(host, port, node => node.SetClientUsers(users), ct);

    public Task<string?> CheckAccessStringAsync(string host, int port, IReadOnlyList<string> rules, CancellationToken ct) =>
        throw NotModelled("ACL SETUSER of a scratch user (the check of an access string)");

    public Task KillReplicaLinksAsync(string host, int port, CancellationToken ct) =>
        throw NotModelled("CLIENT KILL TYPE replica (transit encryption)");

    public Task KillClientsOnAsync(string host, int port, int localPort, CancellationToken ct) =>
        throw NotModelled("CLIENT KILL LADDR (transit encryption)");

    private static NotSupportedException NotModelled(string command) =>
        new($"{command} is not modelled by the in-memory world (ControlPlane:World=memory).");

    private Task RunAsync(string host, int port, Action<RedisProcess> command, CancellationToken ct) =>
        RunAsync(host, port, node =>
        {
            command(node);
            return true;
        }, ct);

    /// <summary>One command to the node at host:port, after a yield, as a round trip would: refused, hung (timed out), or answered.</summary>
    private async Task<T> RunAsync<T>(string host, int port, Func<RedisProcess, T> command, CancellationToken ct)
    {
        await Task.Yield();
        ct.ThrowIfCancellationRequested();
        if (world.CommandLatency > TimeSpan.Zero)
            await Task.Delay(world.CommandLatency, world.Time, ct);
        lock (world.Gate)
        {
            world.Called($"redis {host}:{port}");
            var node = world.Listening(host, port) as RedisProcess
                ?? throw new EngineUnreachableException($"It was not possible to connect to the redis server(s) {host}:{port}: connection refused.");
            if (!node.Hung)
            {
                try
                {
                    return command(node);
                }
                catch (RedisServerException e)
                {
                    // The engine's own words, as the real admin translates them.
                    throw new EngineRefusedException(e.Message, e);
                }
            }
        }
        await Task.Delay(CommandTimeout, world.Time, ct);
        throw new EngineUnreachableException($"{host}:{port} did not answer within {CommandTimeout.TotalSeconds:0} s.", new TimeoutException());
    }
}
