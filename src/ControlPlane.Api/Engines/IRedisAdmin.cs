using ControlPlane.Api.Security;

namespace ControlPlane.Api.Engines;

/// <summary>
/// The port to Redis nodes, addressed by host and port; <see cref="RedisAdmin"/> is the real one.
/// Probes (<see cref="ProbeAsync"/>, <see cref="InfoAsync"/>) never throw for a node that does not
/// answer; admin commands do.
/// </summary>
public interface IRedisAdmin
{
    /// <summary>One probe: role, replication, memory, keys and, in cluster mode, the cluster's view; null when the node does not answer.</summary>
    Task<RedisNodeState?> ProbeAsync(string host, int port, CancellationToken ct);

    /// <summary>CLIENT PAUSE WRITE: writes wait (reads go on) until the time is up or the engine stops.</summary>
    Task PauseWritesAsync(string host, int port, TimeSpan duration, CancellationToken ct);

    /// <summary>REPLICAOF host port.</summary>
    Task ReplicaOfAsync(string host, int port, string masterHost, int masterPort, CancellationToken ct);

    /// <summary>FAILOVER TO, sent to a primary: the two swap roles once the replica has caught up.</summary>
    Task FailoverToAsync(string host, int port, string replicaHost, int replicaPort, TimeSpan timeout, CancellationToken ct);

    /// <summary>REPLICAOF NO ONE: the node keeps its data and starts accepting writes.</summary>
    Task PromoteAsync(string host, int port, CancellationToken ct);

    Task<string> ClusterMyIdAsync(string host, int port, CancellationToken ct);

    /// <summary>Introduces the peer, whose cluster bus listens on the default port + 10000.</summary>
    Task ClusterMeetAsync(string host, int port, string peerHost, int peerPort, CancellationToken ct);

    Task ClusterMeetAsync(string host, int port, string peerHost, int peerPort, int peerBusPort, CancellationToken ct);

    Task<IReadOnlyList<ClusterNodeInfo>> ClusterNodesAsync(string host, int port, CancellationToken ct);

    Task<IReadOnlyDictionary<string, string>> ClusterInfoAsync(string host, int port, CancellationToken ct);

    /// <summary>CLUSTER ADDSLOTSRANGE. Fails when a slot is already assigned, also to this node.</summary>
    Task ClusterAddSlotsRangeAsync(string host, int port, IEnumerable<(int Start, int End)> ranges, CancellationToken ct);

    Task ConfigSetAsync(string host, int port, string name, string value, CancellationToken ct);

    /// <summary>Several settings in one CONFIG SET: all are applied or none.</summary>
    Task ConfigSetAsync(string host, int port, IReadOnlyList<(string Name, string Value)> settings, CancellationToken ct);

    /// <summary>Only accepted by a node that knows no other node and has epoch 0.</summary>
    Task ClusterSetConfigEpochAsync(string host, int port, long epoch, CancellationToken ct);

    /// <summary>Fails with "ERR Unknown node" until gossip has told this node about the master.</summary>
    Task ClusterReplicateAsync(string host, int port, string masterId, CancellationToken ct);

    /// <summary>CLUSTER SETSLOT STABLE for each slot: any IMPORTING or MIGRATING state of the slot on this node is dropped; the keys stay.</summary>
    Task ClusterSetSlotsStableAsync(string host, int port, IEnumerable<int> slots, CancellationToken ct);

    /// <summary>Has to reach every live node within 60 s, or gossip brings the forgotten node back.</summary>
    Task ClusterForgetAsync(string host, int port, string nodeId, CancellationToken ct);

    /// <summary>Sent to the replica that is to take over its master's slots.</summary>
    Task ClusterFailoverAsync(string host, int port, ClusterFailoverMode mode, CancellationToken ct);

    /// <summary>Where a node started with --dir /data writes BGSAVE's file, and loads it from when it starts.</summary>
    const string DumpPath = "/data/dump.rdb";

    /// <summary>
    /// BGSAVE (into <see cref="DumpPath"/>), returning once a save that started after this call has finished and succeeded.
    /// TimeoutException when none finished in time; InvalidOperationException when the save failed.
    /// </summary>
    Task SaveAsync(string host, int port, TimeSpan timeout, CancellationToken ct);

    /// <summary>Closes the cached connection of a node that was removed (its port may be reused by another node). Not CLUSTER FORGET.</summary>
    ValueTask DisconnectAsync(string host, int port);

    /// <summary>Gives the node exactly these client users; the control plane's own users are never touched.</summary>
    Task SetClientUsersAsync(string host, int port, IReadOnlyList<AclUser> users, CancellationToken ct);

    /// <summary>The engine's own verdict on an access string: null when the engine took it, else its error text.</summary>
    Task<string?> CheckAccessStringAsync(string host, int port, IReadOnlyList<string> rules, CancellationToken ct);

    /// <summary>The INFO sections the metrics read, in one round trip; null when the node does not answer.</summary>
    Task<IReadOnlyDictionary<string, string>?> InfoAsync(string host, int port, bool cluster, CancellationToken ct);

    /// <summary>SLOWLOG GET, newest first. Throws when the node does not answer.</summary>
    Task<IReadOnlyList<SlowLogEntry>> SlowLogAsync(string host, int port, int count, CancellationToken ct);

    /// <summary>Closes the node's links to its replicas (CLIENT KILL TYPE replica): they reconnect, with a partial resync.</summary>
    Task KillReplicaLinksAsync(string host, int port, CancellationToken ct);

    /// <summary>Closes the client connections made to the node's <paramref name="localPort"/> (CLIENT KILL LADDR).</summary>
    Task KillClientsOnAsync(string host, int port, int localPort, CancellationToken ct);
}
