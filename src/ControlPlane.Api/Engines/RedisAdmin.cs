using System.Collections.Concurrent;
using System.Globalization;
using ControlPlane.Api.Security.Tls;
using ControlPlane.Api.Security;
using ControlPlane.Domain;
using StackExchange.Redis;

namespace ControlPlane.Api.Engines;

/// <summary>
/// Administration of Redis nodes by host and port. One connection per node, kept until the node is
/// forgotten. Probes never throw for an unreachable node; admin commands do (<see cref="EngineException"/>).
/// It logs in as the control plane's admin user (<see cref="NodeSecrets"/>) when given the secrets.
/// </summary>
public sealed partial class RedisAdmin(ILogger<RedisAdmin> logger, TimeProvider? time = null, INodeSecretSource? secrets = null, NodeTransport? transport = null) : IRedisAdmin, IAsyncDisposable
{
    /// <summary>Redis' default: the cluster bus listens on the client port + 10000.</summary>
    public const int ClusterBusOffset = SlotRanges.ClusterBusOffset;

    private static readonly TimeSpan SavePollInterval = TimeSpan.FromMilliseconds(50);

    /// <summary>
    /// How long one command may go unanswered (a hung node). Bounded here, not by the client's own
    /// AsyncTimeout: the client checks that only at its heartbeat (<see cref="ClientHeartbeat"/>).
    /// </summary>
    private static readonly TimeSpan CommandTimeout = TimeSpan.FromSeconds(2);

    /// <summary>
    /// How often each node's multiplexer looks at its connection. Every node keeps one, so at the
    /// client's default (1 s) an idle control plane ran a timer per node per second: about 0.7% of a
    /// core per 100 nodes (deploy/bench/scale.sh). A dead connection is noticed by its socket anyway,
    /// a hung node by <see cref="CommandTimeout"/>, and the next call after either connects afresh.
    /// </summary>
    private static readonly TimeSpan ClientHeartbeat = TimeSpan.FromSeconds(10);

    private readonly TimeProvider _time = time ?? TimeProvider.System;

    private readonly ConcurrentDictionary<string, NodeConnection> _connections = new();

    public async Task<RedisNodeState?> ProbeAsync(string host, int port, CancellationToken ct)
    {
        try
        {
            var server = await ServerAsync(host, port, ct);
            // One round trip: every command is written before any reply is awaited. INFO rather than
            // PING proves the node alive, because it also answers while the node is loading its data.
            // The connection already knows whether the node runs in cluster mode.
            var cluster = server.ServerType == ServerType.Cluster;
            var info = server.ExecuteAsync("INFO", "server", "memory", "persistence", "replication", "cluster", "keyspace");
            var clusterInfo = cluster ? server.ExecuteAsync("CLUSTER", "INFO") : null;
            var myId = cluster ? server.ExecuteAsync("CLUSTER", "MYID") : null;
            await Task.WhenAll(new Task?[] { info, clusterInfo, myId }.OfType<Task>()).WaitAsync(CommandTimeout, _time, ct);

            var fields = ParseFields((string?)await info ?? "");
            if (Int(fields, "cluster_enabled") == 1 && clusterInfo is null)
            {
                // Cluster mode without the connection noticing: rare, worth a second round trip.
                clusterInfo = server.ExecuteAsync("CLUSTER", "INFO");
                myId = server.ExecuteAsync("CLUSTER", "MYID");
                await Task.WhenAll(clusterInfo, myId).WaitAsync(CommandTimeout, _time, ct);
            }
            return ToState(fields,
                clusterInfo is null ? null : ParseFields((string?)await clusterInfo ?? ""),
                myId is null ? null : (string?)await myId);
        }
        catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
        {
            // Refused, timed out, LOADING/BUSY errors, or a connection disposed under us: the caller
            // counts this as one failed probe, never as proof of death.
            LogProbeFailed(logger, host, port, e.Message);
            return null;
        }
    }

    /// <summary>CLIENT PAUSE WRITE: writes wait (reads go on) until the time is up or the engine stops; used before a node saves for a reboot.</summary>
    public Task PauseWritesAsync(string host, int port, TimeSpan duration, CancellationToken ct) =>
        ExecuteAsync(host, port, ct, "CLIENT", "PAUSE", (long)duration.TotalMilliseconds, "WRITE");

    public Task ReplicaOfAsync(string host, int port, string masterHost, int masterPort, CancellationToken ct) =>
        ExecuteAsync(host, port, ct, "REPLICAOF", masterHost, masterPort);

    /// <summary>
    /// FAILOVER TO (Redis 6.2+), sent to a primary: it pauses writers until the replica has caught up,
    /// then the two swap roles, so no acknowledged write is lost. It answers at once; the swap follows.
    /// </summary>
    public Task FailoverToAsync(string host, int port, string replicaHost, int replicaPort, TimeSpan timeout, CancellationToken ct) =>
        ExecuteAsync(host, port, ct, "FAILOVER", "TO", replicaHost, replicaPort, "TIMEOUT", (long)timeout.TotalMilliseconds);

    /// <summary>REPLICAOF NO ONE: the node keeps its data and starts accepting writes.</summary>
    public Task PromoteAsync(string host, int port, CancellationToken ct) =>
        ExecuteAsync(host, port, ct, "REPLICAOF", "NO", "ONE");

    public async Task<string> ClusterMyIdAsync(string host, int port, CancellationToken ct) =>
        (string?)await ExecuteAsync(host, port, ct, "CLUSTER", "MYID")
        ?? throw new InvalidOperationException($"{host}:{port} returned no cluster id.");

    /// <summary>Introduces the peer, whose cluster bus listens on the default port + 10000.</summary>
    public Task ClusterMeetAsync(string host, int port, string peerHost, int peerPort, CancellationToken ct) =>
        ClusterMeetAsync(host, port, peerHost, peerPort, peerPort + ClusterBusOffset, ct);

    public Task ClusterMeetAsync(string host, int port, string peerHost, int peerPort, int peerBusPort, CancellationToken ct) =>
        // The bus port argument exists from Redis 7.0 on; leave it out when it is the default.
        peerBusPort == peerPort + ClusterBusOffset
            ? ExecuteAsync(host, port, ct, "CLUSTER", "MEET", peerHost, peerPort)
            : ExecuteAsync(host, port, ct, "CLUSTER", "MEET", peerHost, peerPort, peerBusPort);

    public async Task<IReadOnlyList<ClusterNodeInfo>> ClusterNodesAsync(string host, int port, CancellationToken ct) =>
        ClusterNodesParser.Parse((string?)await ExecuteAsync(host, port, ct, "CLUSTER", "NODES") ?? "");

    public async Task<IReadOnlyDictionary<string, string>> ClusterInfoAsync(string host, int port, CancellationToken ct) =>
        ParseFields((string?)await ExecuteAsync(host, port, ct, "CLUSTER", "INFO") ?? "");

    /// <summary>CLUSTER ADDSLOTSRANGE (Redis 7.0+). Fails when a slot is already assigned, also to this node.</summary>
    public Task ClusterAddSlotsRangeAsync(string host, int port, IEnumerable<(int Start, int End)> ranges, CancellationToken ct)
    {
        var args = new List<object> { "ADDSLOTSRANGE" };
        foreach (var (start, end) in ranges)
        {
            args.Add(start);
            args.Add(end);
        }
        return args.Count == 1 ? Task.CompletedTask : ExecuteAsync(host, port, ct, "CLUSTER", [.. args]);
    }

    public Task ConfigSetAsync(string host, int port, string name, string value, CancellationToken ct) =>
        ExecuteAsync(host, port, ct, "CONFIG", "SET", name, value);

    /// <summary>Several settings in one CONFIG SET (Redis 7.0+): all are applied or none.</summary>
    public Task ConfigSetAsync(string host, int port, IReadOnlyList<(string Name, string Value)> settings, CancellationToken ct) =>
        ExecuteAsync(host, port, ct, "CONFIG", ["SET", .. settings.SelectMany(s => new object[] { s.Name, s.Value })]);

    /// <summary>Only accepted by a node that knows no other node and has epoch 0: give each new primary its own epoch before MEET.</summary>
    public Task ClusterSetConfigEpochAsync(string host, int port, long epoch, CancellationToken ct) =>
        ExecuteAsync(host, port, ct, "CLUSTER", "SET-CONFIG-EPOCH", epoch);

    /// <summary>Fails with "ERR Unknown node" until gossip has told this node about the master: wait for it in CLUSTER NODES first.</summary>
    public Task ClusterReplicateAsync(string host, int port, string masterId, CancellationToken ct) =>
        ExecuteAsync(host, port, ct, "CLUSTER", "REPLICATE", masterId);

    /// <summary>CLUSTER SETSLOT STABLE for each slot: any IMPORTING or MIGRATING state of the slot on this node is dropped; the keys stay.</summary>
    public Task ClusterSetSlotsStableAsync(string host, int port, IEnumerable<int> slots, CancellationToken ct) =>
        EngineErrors.GuardAsync(async () =>
        {
            var server = await ServerAsync(host, port, ct);
            await Task.WhenAll(slots.Select(slot => server.ExecuteAsync("CLUSTER", "SETSLOT", slot, "STABLE"))).WaitAsync(CommandTimeout, _time, ct);
        });

    /// <summary>Has to reach every live node within 60 s, or gossip brings the forgotten node back.</summary>
    public Task ClusterForgetAsync(string host, int port, string nodeId, CancellationToken ct) =>
        ExecuteAsync(host, port, ct, "CLUSTER", "FORGET", nodeId);

    /// <summary>Sent to the replica that is to take over its master's slots.</summary>
    public Task ClusterFailoverAsync(string host, int port, ClusterFailoverMode mode, CancellationToken ct) => mode switch
    {
        ClusterFailoverMode.Force => ExecuteAsync(host, port, ct, "CLUSTER", "FAILOVER", "FORCE"),
        ClusterFailoverMode.Takeover => ExecuteAsync(host, port, ct, "CLUSTER", "FAILOVER", "TAKEOVER"),
        _ => ExecuteAsync(host, port, ct, "CLUSTER", "FAILOVER"),
    };

    /// <summary>
    /// Writes the node's data set to its dump.rdb (BGSAVE) and returns once a save that started after
    /// this call has finished and succeeded, so the file holds every write acknowledged before the
    /// call. Concurrent callers may share one save. TimeoutException when none finished in time;
    /// InvalidOperationException when the save failed (a full disk, a fork refused for memory).
    /// </summary>
    public async Task SaveAsync(string host, int port, TimeSpan timeout, CancellationToken ct)
    {
        using var deadline = new CancellationTokenSource(timeout, _time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(ct, deadline.Token);
        SaveProgress? last = null;
        try
        {
            while (true)
            {
                var before = last = await SaveProgressAsync(host, port, linked.Token);
                // SCHEDULE: while an AOF rewrite (or a module's fork) runs, the save starts right after
                // it instead of being refused.
                string? reply;
                try
                {
                    reply = (string?)await ExecuteAsync(host, port, linked.Token, "BGSAVE", "SCHEDULE");
                }
                catch (EngineRefusedException e) when (e.Message.Contains("already in progress", StringComparison.OrdinalIgnoreCase))
                {
                    reply = null;
                }
                LogSaveRequested(logger, host, port, reply ?? "another save is in progress");

                if (reply?.Contains("started", StringComparison.OrdinalIgnoreCase) == true)
                {
                    // Our own child: the flag stays up from the reply until it has finished.
                    last = await UntilAsync(host, port, p => !p.InProgress, linked.Token);
                    break;
                }
                if (reply?.Contains("scheduled", StringComparison.OrdinalIgnoreCase) == true)
                {
                    last = await UntilAsync(host, port, p => p.StartedAfter(before) && !p.InProgress, linked.Token);
                    break;
                }
                if (reply is not null)
                    throw new InvalidOperationException($"BGSAVE on {host}:{port} answered '{reply}'.");

                // Another RDB child runs: someone's BGSAVE, or a diskless full sync that writes no file
                // at all. One that started after our reading will do; an older one misses the writes
                // made since, so another save is asked for once it has finished.
                last = await UntilAsync(host, port, p => !p.InProgress, linked.Token);
                if (last.StartedAfter(before))
                    break;
            }
        }
        catch (OperationCanceledException) when (deadline.IsCancellationRequested && !ct.IsCancellationRequested)
        {
            throw new TimeoutException($"No BGSAVE on {host}:{port} finished within {timeout.TotalSeconds:0.#} s; last seen: {last}.");
        }

        if (!last.LastStatusOk)
            throw new InvalidOperationException($"BGSAVE on {host}:{port} failed (rdb_last_bgsave_status:{last.LastStatus}); the node's log says why.");
    }

    /// <summary>Closes the cached connection of a node that was removed (its port may be reused by another node). Not CLUSTER FORGET.</summary>
    public async ValueTask DisconnectAsync(string host, int port)
    {
        if (_connections.TryRemove($"{host}:{port}/tls", out var tls))
            await tls.DisposeAsync();
        if (_connections.TryRemove($"{host}:{port}", out var connection))
            await connection.DisposeAsync();
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var key in _connections.Keys)
        {
            if (_connections.TryRemove(key, out var connection))
                await connection.DisposeAsync();
        }
    }

    // Every admin command goes through here or through EngineErrors.GuardAsync: the client's exceptions stop in this folder.
    private Task<RedisResult> ExecuteAsync(string host, int port, CancellationToken ct, string command, params object[] args) =>
        EngineErrors.GuardAsync(async () =>
        {
            var server = await ServerAsync(host, port, ct);
            return await server.ExecuteAsync(command, args).WaitAsync(CommandTimeout, _time, ct);
        });

    private async Task<IServer> ServerAsync(string host, int port, CancellationToken ct)
    {
        var connection = _connections.GetOrAdd(Key(host, port), _ => new NodeConnection((h, p, c) => NodeLogin.ConnectAsync(Transport.Apply(Options(h, p), h, p), secrets, c)));
        return await connection.ServerAsync(host, port, ct);
    }

    private NodeTransport Transport { get; } = transport ?? new NodeTransport();

    // A port that moved between plain text and TLS gets a connection of its own.
    private string Key(string host, int port) => Transport.ConnectionKey(host, port);

    private async Task<SaveProgress> UntilAsync(string host, int port, Func<SaveProgress, bool> done, CancellationToken ct)
    {
        while (true)
        {
            var progress = await SaveProgressAsync(host, port, ct);
            if (done(progress))
                return progress;
            await Task.Delay(SavePollInterval, _time, ct);
        }
    }

    private async Task<SaveProgress> SaveProgressAsync(string host, int port, CancellationToken ct)
    {
        var info = ParseFields((string?)await ExecuteAsync(host, port, ct, "INFO", "persistence") ?? "");
        return new SaveProgress(
            // rdb_saves (Redis 7.0+) counts the saves to disk as they start; LASTSAVE's whole seconds
            // cannot tell two saves of the same second apart, so it only stands in for older servers.
            info.ContainsKey("rdb_saves") ? Long(info, "rdb_saves") : null,
            Long(info, "rdb_last_save_time"),
            Int(info, "rdb_bgsave_in_progress") == 1,
            info.GetValueOrDefault("rdb_last_bgsave_status") ?? "");
    }

    private sealed record SaveProgress(long? Saves, long LastSaveTime, bool InProgress, string LastStatus)
    {
        public bool LastStatusOk => LastStatus == "ok";

        /// <summary>Whether a save to disk started after <paramref name="before"/> was read.</summary>
        public bool StartedAfter(SaveProgress before) =>
            Saves is { } saves && before.Saves is { } earlier ? saves > earlier : LastSaveTime > before.LastSaveTime;
    }

    private static RedisNodeState ToState(
        IReadOnlyDictionary<string, string> info, IReadOnlyDictionary<string, string>? cluster, string? myId)
    {
        var replica = info.GetValueOrDefault("role") == "slave";
        return new RedisNodeState(
            Role: replica ? RedisRole.Replica : RedisRole.Master,
            MasterHost: replica ? info.GetValueOrDefault("master_host") : null,
            MasterPort: replica ? (int?)Int(info, "master_port") : null,
            MasterLinkUp: replica && info.GetValueOrDefault("master_link_status") == "up",
            ReplicationOffset: Long(info, replica ? "slave_repl_offset" : "master_repl_offset"),
            ConnectedReplicas: Int(info, "connected_slaves"),
            Loading: Int(info, "loading") == 1,
            SyncInProgress: Int(info, "master_sync_in_progress") == 1,
            KeyCount: KeyCount(info),
            Version: info.GetValueOrDefault("redis_version") ?? "",
            UsedMemoryBytes: Long(info, "used_memory"),
            MaxMemoryBytes: Long(info, "maxmemory"),
            ClusterEnabled: cluster is not null,
            ClusterState: cluster?.GetValueOrDefault("cluster_state"),
            MyId: myId,
            ClusterKnownNodes: cluster is null ? null : Int(cluster, "cluster_known_nodes"),
            SlotsAssigned: cluster is null ? null : Int(cluster, "cluster_slots_assigned"),
            SlotsOk: cluster is null ? null : Int(cluster, "cluster_slots_ok"))
        {
            Replicas = replica ? [] : ReplicaLinks(info),
            CurrentEpoch = cluster is null ? null : Long(cluster, "cluster_current_epoch"),
            MyEpoch = cluster is null ? null : Long(cluster, "cluster_my_epoch"),
        };
    }

    private static List<ReplicaLink> ReplicaLinks(IReadOnlyDictionary<string, string> info) =>
        info.Where(f => f.Key.StartsWith("slave", StringComparison.Ordinal) && f.Key.Length > 5 && f.Key[5..].All(char.IsAsciiDigit))
            .Select(f => f.Value.Split(',').Select(p => p.Split('=', 2)).Where(kv => kv.Length == 2).ToDictionary(kv => kv[0], kv => kv[1]))
            .Where(kv => kv.ContainsKey("ip") && int.TryParse(kv.GetValueOrDefault("port"), CultureInfo.InvariantCulture, out _))
            .Select(kv => new ReplicaLink(kv["ip"], int.Parse(kv["port"], CultureInfo.InvariantCulture), kv.GetValueOrDefault("state") == "online",
                long.TryParse(kv.GetValueOrDefault("offset"), CultureInfo.InvariantCulture, out var offset) ? offset : 0))
            .ToList();

    // The keyspace section ("db0:keys=12,expires=0,avg_ttl=0") counts what DBSIZE counts, over every
    // database, and unlike DBSIZE it answers while the node is loading.
    private static long KeyCount(IReadOnlyDictionary<string, string> info) =>
        info.Where(f => f.Key.StartsWith("db", StringComparison.Ordinal) && f.Key[2..].All(char.IsAsciiDigit))
            .Sum(f => f.Value.Split(',')
                .Select(p => p.Split('='))
                .Where(kv => kv.Length == 2 && kv[0] == "keys")
                .Select(kv => long.Parse(kv[1], CultureInfo.InvariantCulture))
                .FirstOrDefault());

    /// <summary>INFO and CLUSTER INFO: "key:value" lines, "# Section" headers.</summary>
    internal static IReadOnlyDictionary<string, string> ParseFields(string text)
    {
        var fields = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var line in text.Split('\n', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            var colon = line.IndexOf(':');
            if (line[0] != '#' && colon > 0)
                fields[line[..colon]] = line[(colon + 1)..];
        }
        return fields;
    }

    private static long Long(IReadOnlyDictionary<string, string> fields, string key) =>
        long.TryParse(fields.GetValueOrDefault(key), NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) ? value : 0;

    private static int Int(IReadOnlyDictionary<string, string> fields, string key) => (int)Long(fields, key);

    private static ConfigurationOptions Options(string host, int port) => new()
    {
        EndPoints = { { host, port } },
        AllowAdmin = true,
        ConnectTimeout = 1000,
        SyncTimeout = 2000,
        AsyncTimeout = 2000,
        ConnectRetry = 1,
        HeartbeatInterval = ClientHeartbeat,
        // A node that does not answer is reported at once; the next call connects afresh.
        AbortOnConnectFail = true,
        BacklogPolicy = BacklogPolicy.FailFast,
        // We talk to this one node; no pub/sub channel or tie-breaker key for primary election.
        ConfigurationChannel = "",
        TieBreaker = "",
        ClientName = "controlplane",
        // Under RESP3 (this client's default) INFO and CLUSTER NODES/INFO are verbatim strings
        // that read as "txt:..."; RESP2 gives the plain text every parser here expects.
        Protocol = RedisProtocol.Resp2,
    };

    [LoggerMessage(Level = LogLevel.Debug, Message = "BGSAVE on {Host}:{Port}: {Reply}")]
    private static partial void LogSaveRequested(ILogger logger, string host, int port, string reply);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Probe of {Host}:{Port} failed: {Reason}")]
    private static partial void LogProbeFailed(ILogger logger, string host, int port, string reason);
}
