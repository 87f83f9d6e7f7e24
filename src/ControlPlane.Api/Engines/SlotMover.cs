using System.Collections.Concurrent;
using ControlPlane.Api.Security.Tls;
using ControlPlane.Api.Security;
using ControlPlane.Domain;
using StackExchange.Redis;

namespace ControlPlane.Api.Engines;

/// <summary>
/// Moves Redis Cluster hash slots between masters, a chunk of slots per step with every command of a
/// step pipelined, where redis-cli moves one slot at a time with one round trip per command.
/// Each node gets a connection of its own, separate from <see cref="RedisAdmin"/>'s: MIGRATE of a large
/// key holds a node for seconds, which the probes' short timeouts must not have to wait behind.
/// </summary>
public sealed partial class SlotMover(ILogger<SlotMover> logger, TimeProvider timeProvider, INodeSecretSource? secrets = null, NodeTransport? transport = null) : ISlotMover, IAsyncDisposable
{
    public const int SlotCount = SlotRanges.SlotCount;

    private const string AlreadyOwner = "I'm already the owner of hash slot";
    private const string NotOwner = "I'm not the owner of hash slot";

    private readonly ConcurrentDictionary<string, NodeConnection> _connections = new();

    public SlotMover(ILogger<SlotMover> logger) : this(logger, TimeProvider.System)
    {
    }

    /// <summary>
    /// Slots prepared, drained and switched together; one onMoved call per chunk. Each step of a chunk costs a
    /// round trip and, for SETSLOT, a save of nodes.conf, whatever the chunk's size: with few keys a slot these
    /// steps are most of the time (2,000 slots of 10 keys: 10,000 keys/s with 64, 25,000 with 256).
    /// </summary>
    public int SlotsPerChunk { get; init; } = 256;

    /// <summary>The COUNT of each CLUSTER GETKEYSINSLOT: how many keys of a slot one round reads.</summary>
    public int KeysPerSlotRound { get; init; } = 500;

    /// <summary>At most this many keys in one MIGRATE (redis-cli sends 10).</summary>
    public int KeysPerBatch { get; init; } = 256;

    /// <summary>
    /// At most about this many bytes (MEMORY USAGE) in one MIGRATE: the source serialises the whole batch
    /// in memory before sending it, outside maxmemory. A key bigger than this goes alone.
    /// </summary>
    public long BytesPerBatch { get; init; } = 8L << 20;

    /// <summary>
    /// Connections per node that a chunk's SETSLOTs are spread over, for the length of one move. Valkey 8
    /// replicates each SETSLOT to the node's replicas and answers it only once they acknowledged it (each
    /// wait ending in a save of nodes.conf); its connection waits meanwhile. On one connection a chunk's
    /// 256 slots wait in turn: Valkey's reshard test with replicas took 64-73 s against Redis 7's 13, and
    /// 42-47 s with 8 lanes (32 read no better on this machine, whose disk made each wait tens of ms).
    /// Commands on separate connections wait together.
    /// </summary>
    public int SetSlotLanes { get; init; } = 8;

    /// <summary>MIGRATEs sent and not answered yet, so that none waits for its reply longer than the client timeout.</summary>
    public int MigratesInFlight { get; init; } = 32;

    /// <summary>MIGRATE's own timeout, per read or write on the target link, for a batch and for a key that goes alone.</summary>
    public TimeSpan BatchTimeout { get; init; } = TimeSpan.FromSeconds(10);

    public TimeSpan LargeKeyTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Moves every slot in <paramref name="slots"/> from <paramref name="source"/> to <paramref name="target"/> so that,
    /// when a slot is reported, the target owns it in its own view, in the source's view and in the view of every
    /// master in <paramref name="masters"/> (SETSLOT NODE sent to target first, then source, then the others).
    /// Keys of a slot all end up on the target. Idempotent and resumable: a slot found half-moved (IMPORTING/MIGRATING
    /// left open by a crash, keys on both sides, SETSLOT NODE done on some nodes but not others, or already fully
    /// moved) is finished, never left open. <paramref name="onMoved"/> is awaited after each group of finished slots
    /// with (slots finished, keys moved for them), so the caller can persist progress; <paramref name="budget"/>
    /// bounds the call: it stops starting new slots after that much time and returns the slots it finished (a slot
    /// it started is finished before returning). The first group is always started, so every call makes progress.
    /// </summary>
    /// <exception cref="SlotMoveException">MIGRATE failed, a node is not the one expected, or a slot is on neither side.</exception>
    public Task<SlotMoveResult> MoveAsync(ClusterMaster source, ClusterMaster target, IReadOnlyList<ClusterMaster> masters,
        IReadOnlyList<int> slots, Func<IReadOnlyList<int>, long, Task> onMoved, TimeSpan budget, CancellationToken ct) =>
        // SlotMoveException passes as it is; a node that fails outside a MIGRATE becomes an EngineException.
        EngineErrors.GuardAsync(() => MoveCoreAsync(source, target, masters, slots, onMoved, budget, ct));

    private async Task<SlotMoveResult> MoveCoreAsync(ClusterMaster source, ClusterMaster target, IReadOnlyList<ClusterMaster> masters,
        IReadOnlyList<int> slots, Func<IReadOnlyList<int>, long, Task> onMoved, TimeSpan budget, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(onMoved);
        if (source.ClusterId == target.ClusterId || SameEndpoint(source, target))
            throw new ArgumentException($"Source and target are the same node, {source}.", nameof(target));
        foreach (var slot in slots)
        {
            if (slot is < 0 or >= SlotCount)
                throw new ArgumentOutOfRangeException(nameof(slots), slot, "A hash slot is 0 to 16383.");
        }

        var others = masters
            .Where(m => !SameEndpoint(m, source) && !SameEndpoint(m, target) && m.ClusterId != source.ClusterId && m.ClusterId != target.ClusterId)
            .DistinctBy(m => Key(m.Host, m.Port))
            .ToList();
        var started = timeProvider.GetTimestamp();
        var moved = new List<int>();
        var keysMoved = 0L;
        await using var lanes = new Lanes(this);
        foreach (var chunk in slots.Distinct().Chunk(SlotsPerChunk))
        {
            if (moved.Count > 0 && timeProvider.GetElapsedTime(started) >= budget)
                break;
            var keys = await MoveChunkAsync(source, target, others, chunk, lanes, ct);
            moved.AddRange(chunk);
            keysMoved += keys;
            LogChunkMoved(logger, chunk.Length, keys, source.ToString(), target.ToString());
            await onMoved(chunk, keys);
        }
        var elapsed = timeProvider.GetElapsedTime(started);
        LogMoved(logger, moved.Count, slots.Count, keysMoved, source.ToString(), target.ToString(), elapsed.TotalMilliseconds);
        return new SlotMoveResult(moved, keysMoved);
    }

    /// <summary>Closes the cached connection of a node that was removed: its port may be reused by another node.</summary>
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

    /// <summary>Opens, drains and switches a chunk of slots; returns the keys sent.</summary>
    private async Task<long> MoveChunkAsync(ClusterMaster source, ClusterMaster target, List<ClusterMaster> others, int[] chunk, Lanes lanes, CancellationToken ct)
    {
        var sourceServer = await ServerAsync(source, ct);
        var targetServer = await ServerAsync(target, ct);

        // Each side's own view decides what is still to do; the errors that mean "already done" are
        // tolerated as well, in case the view changed in between (gossip).
        var sourceView = Execute(sourceServer, "CLUSTER", "NODES");
        var targetView = Execute(targetServer, "CLUSTER", "NODES");
        var sourceNodes = ClusterNodesParser.Parse((string?)await sourceView.WaitAsync(ct) ?? "");
        var sourceSelf = Myself(source, sourceNodes);
        var targetSelf = Myself(target, ClusterNodesParser.Parse((string?)await targetView.WaitAsync(ct) ?? ""));
        lanes.Follow(sourceNodes);

        var importing = new List<int>();
        var migrating = new List<int>();
        foreach (var slot in chunk)
        {
            var targetOwns = Owns(targetSelf, slot);
            var sourceOwns = Owns(sourceSelf, slot);
            // Only the source loses a slot, and only to the target (which owns it first): anything else means
            // the slot went elsewhere and moving it would take it from its owner.
            if (!targetOwns && !sourceOwns)
                throw new SlotMoveException($"Slot {slot} belongs to neither {source} nor {target} in their own views: is the plan stale?");
            // IMPORTING on a node that owns the slot fails; MIGRATING on one that does not, too.
            if (!targetOwns && !targetSelf.Migrations.Contains(new SlotMigration(slot, Importing: true, source.ClusterId)))
                importing.Add(slot);
            if (sourceOwns && !sourceSelf.Migrations.Contains(new SlotMigration(slot, Importing: false, target.ClusterId)))
                migrating.Add(slot);
        }

        // Importing before migrating: a client sent by the source's ASK to the target must be accepted there.
        await AllAsync(await lanes.SetSlotsAsync(target, importing, "IMPORTING", source.ClusterId, ct), AlreadyOwner, target, ct);
        // Keys are listed once every MIGRATING is answered: from then on the source gets no new key of the chunk.
        // (The SETSLOTs went over other connections, so a listing sent beside them could be served first.)
        await AllAsync(await lanes.SetSlotsAsync(source, migrating, "MIGRATING", target.ClusterId, ct), NotOwner, source, ct);
        var listings = ListKeys(sourceServer, chunk);

        var keys = await DrainAsync(sourceServer, source, target, chunk, listings, ct);

        // Target first: it bumps its config epoch and owns the slot for good, so gossip cannot undo it; then
        // the source (which clears its MIGRATING state, as it holds no key of the slot any more), then the rest.
        await AllAsync(await lanes.SetSlotsAsync(target, chunk, "NODE", target.ClusterId, ct), null, target, ct);
        await AllAsync(await lanes.SetSlotsAsync(source, chunk, "NODE", target.ClusterId, ct), null, source, ct);
        var rest = new List<Task>();
        foreach (var other in others)
            rest.Add(SetSlotsNodeAsync(other, chunk, target.ClusterId, lanes, ct));
        await Task.WhenAll(rest).WaitAsync(ct);
        return keys;
    }

    private static async Task SetSlotsNodeAsync(ClusterMaster node, int[] slots, string ownerId, Lanes lanes, CancellationToken ct) =>
        await AllAsync(await lanes.SetSlotsAsync(node, slots, "NODE", ownerId, ct), null, node, ct);

    /// <summary>
    /// One move's SETSLOT connections: a node's own connection and, for a master with replicas (the only
    /// kind that waits), <see cref="SetSlotLanes"/> - 1 more, opened when the move first sets a slot on it
    /// and closed when the move ends, so that nodes keep one connection of the mover between reshards.
    /// Opening them for every master cost a Redis 7 reshard without replicas 15-20% of its speed.
    /// </summary>
    private sealed class Lanes(SlotMover mover) : IAsyncDisposable
    {
        private readonly Dictionary<string, IServer[]> _byNode = [];
        private readonly List<ConnectionMultiplexer> _opened = [];
        private HashSet<string> _followed = [];

        /// <summary>The masters with a replica, as the source's CLUSTER NODES shows them.</summary>
        public void Follow(IEnumerable<ClusterNodeInfo> view) =>
            _followed = view.Where(n => n.IsReplica && !n.IsFailed && n.MasterId is not null).Select(n => n.MasterId!).ToHashSet();

        /// <summary>CLUSTER SETSLOT slot subcommand nodeId for each slot, round robin over the node's lanes, sent at once.</summary>
        public async Task<List<Task<RedisResult>>> SetSlotsAsync(ClusterMaster node, IReadOnlyList<int> slots, string subcommand, string nodeId, CancellationToken ct)
        {
            if (slots.Count == 0)
                return [];
            var lanes = await ServersAsync(node, _followed.Contains(node.ClusterId) ? Math.Min(slots.Count, mover.SetSlotLanes) : 1, ct);
            return slots.Select((s, i) => Execute(lanes[i % lanes.Length], "CLUSTER", "SETSLOT", s, subcommand, nodeId)).ToList();
        }

        private async Task<IServer[]> ServersAsync(ClusterMaster node, int wanted, CancellationToken ct)
        {
            var key = mover.Key(node.Host, node.Port);
            var have = _byNode.GetValueOrDefault(key) ?? [await mover.ServerAsync(node, ct)];
            if (have.Length < wanted)
            {
                // Each kept as it opens: if one fails, those already open are still closed at the end.
                var added = await Task.WhenAll(Enumerable.Range(0, wanted - have.Length).Select(async _ =>
                {
                    var multiplexer = await mover.ConnectAsync(node.Host, node.Port, ct);
                    lock (_opened)
                        _opened.Add(multiplexer);
                    return multiplexer;
                }));
                have = [.. have, .. added.Select(m => m.GetServer(node.Host, node.Port))];
            }
            _byNode[key] = have;
            return have;
        }

        public async ValueTask DisposeAsync()
        {
            foreach (var multiplexer in _opened)
                await multiplexer.DisposeAsync();
        }
    }

    /// <summary>
    /// MIGRATEs the chunk's keys until GETKEYSINSLOT on the source answers nothing for every slot: only then
    /// may a slot be switched. Keys cannot reappear on a MIGRATING source (it answers ASK for a missing key).
    /// </summary>
    private async Task<long> DrainAsync(IServer sourceServer, ClusterMaster source, ClusterMaster target, int[] chunk,
        List<Task<RedisResult>> listings, CancellationToken ct)
    {
        var keysMoved = 0L;
        IReadOnlyList<int> pending = chunk;
        while (true)
        {
            await Task.WhenAll(listings).WaitAsync(ct);
            var found = new List<(int Slot, RedisValue[] Keys)>();
            for (var i = 0; i < pending.Count; i++)
            {
                var keys = (RedisValue[]?)await listings[i] ?? [];
                if (keys.Length > 0)
                    found.Add((pending[i], keys));
            }
            if (found.Count == 0)
                break;
            keysMoved += await MigrateAsync(sourceServer, source, target, found, ct);
            pending = found.Select(f => f.Slot).ToList();
            listings = ListKeys(sourceServer, pending);
        }
        return keysMoved;
    }

    private List<Task<RedisResult>> ListKeys(IServer sourceServer, IEnumerable<int> slots) =>
        slots.Select(s => Execute(sourceServer, "CLUSTER", "GETKEYSINSLOT", s, KeysPerSlotRound)).ToList();

    private async Task<long> MigrateAsync(IServer sourceServer, ClusterMaster source, ClusterMaster target,
        List<(int Slot, RedisValue[] Keys)> found, CancellationToken ct)
    {
        // MEMORY USAGE is a cheap estimate (it samples aggregates); a key that vanished meanwhile answers
        // ASK, counted as small.
        var sizing = found.SelectMany(f => f.Keys).Select(k => Execute(sourceServer, "MEMORY", "USAGE", k)).ToList();
        try
        {
            await Task.WhenAll(sizing).WaitAsync(ct);
        }
        catch (RedisServerException)
        {
        }

        // A batch holds keys of one slot only: MIGRATE with keys of two slots answers CROSSSLOT in cluster mode.
        var batches = new List<Batch>();
        var next = 0;
        foreach (var (slot, keys) in found)
        {
            var batch = new Batch(slot, [], 0);
            foreach (var key in keys)
            {
                var size = sizing[next++] is { IsCompletedSuccessfully: true } s ? (long?)s.Result ?? 0 : 0;
                if (size > BytesPerBatch)
                {
                    batches.Add(new Batch(slot, [key], size));
                    continue;
                }
                if (batch.Keys.Count >= KeysPerBatch || batch.Keys.Count > 0 && batch.Bytes + size > BytesPerBatch)
                {
                    batches.Add(batch);
                    batch = new Batch(slot, [], 0);
                }
                batch.Keys.Add(key);
                batch = batch with { Bytes = batch.Bytes + size };
            }
            if (batch.Keys.Count > 0)
                batches.Add(batch);
        }

        // A sliding window: the source runs MIGRATEs one after the other, so a few queued keep it busy
        // without any waiting for its reply longer than the client's timeout.
        var moved = 0L;
        var inFlight = new Queue<(Task<long> Task, long Bytes)>();
        var inFlightBytes = 0L;
        try
        {
            foreach (var batch in batches)
            {
                while (inFlight.Count > 0 && (inFlight.Count >= MigratesInFlight || inFlightBytes + batch.Bytes > 4 * BytesPerBatch))
                {
                    var (done, bytes) = inFlight.Dequeue();
                    inFlightBytes -= bytes;
                    moved += await done.WaitAsync(ct);
                }
                inFlight.Enqueue((MigrateBatchAsync(sourceServer, source, target, batch), batch.Bytes));
                inFlightBytes += batch.Bytes;
            }
            while (inFlight.Count > 0)
                moved += await inFlight.Dequeue().Task.WaitAsync(ct);
        }
        catch
        {
            // Let the MIGRATEs already sent end, so that no failure of theirs goes unobserved.
            try
            {
                await Task.WhenAll(inFlight.Select(f => f.Task));
            }
            catch (Exception)
            {
            }
            throw;
        }
        return moved;
    }

    private async Task<long> MigrateBatchAsync(IServer sourceServer, ClusterMaster source, ClusterMaster target, Batch batch)
    {
        var alone = batch.Keys.Count == 1 && batch.Bytes > BytesPerBatch;
        try
        {
            return await MigrateKeysAsync(sourceServer, target, batch.Keys, alone ? LargeKeyTimeout : BatchTimeout);
        }
        catch (RedisServerException e) when (e.Message.StartsWith("IOERR", StringComparison.Ordinal) && !alone)
        {
            // A timeout on the target link: the batch was bigger than its estimate. Each key alone, with time.
            LogBatchRetried(logger, batch.Keys.Count, batch.Slot, source.ToString(), e.Message);
            var moved = 0L;
            foreach (var key in batch.Keys)
            {
                try
                {
                    moved += await MigrateKeysAsync(sourceServer, target, [key], LargeKeyTimeout);
                }
                catch (RedisException inner)
                {
                    throw Failed(source, target, batch, inner);
                }
            }
            return moved;
        }
        catch (RedisException e)
        {
            throw Failed(source, target, batch, e);
        }
    }

    private async Task<long> MigrateKeysAsync(IServer sourceServer, ClusterMaster target, List<RedisValue> keys, TimeSpan timeout)
    {
        var args = new List<object>(keys.Count + 10) { target.Host, target.Port, "", 0, (long)timeout.TotalMilliseconds, "REPLACE" };
        // The source logs in to the target as the control plane: clients may not run MIGRATE at all.
        if (secrets is not null)
            args.AddRange(["AUTH2", NodeSecrets.AdminUser, (await secrets.GetAsync(CancellationToken.None)).AdminPassword]);
        args.Add("KEYS");
        foreach (var key in keys)
            args.Add(key);
        // REPLACE: a key on both sides is the source's until the slot switches, so the source's copy wins.
        // NOKEY: every key vanished (expired, deleted) since GETKEYSINSLOT.
        var reply = (string?)await sourceServer.ExecuteAsync("MIGRATE", args, CommandFlags.NoRedirect);
        return reply == "NOKEY" ? 0 : keys.Count;
    }

    private static SlotMoveException Failed(ClusterMaster source, ClusterMaster target, Batch batch, Exception e)
    {
        var why = e.Message.Contains("OOM", StringComparison.Ordinal)
            ? $"the target {target} is out of memory (maxmemory)"
            : e.Message;
        return new SlotMoveException(
            $"MIGRATE of {batch.Keys.Count} key(s) of slot {batch.Slot} from {source} to {target} failed: {why}. "
            + "The slot stays open (MIGRATING/IMPORTING); a later move finishes it.", e);
    }

    /// <summary>Awaits commands already sent together; an error containing <paramref name="tolerated"/> means "already done".</summary>
    private static async Task AllAsync(List<Task<RedisResult>> sent, string? tolerated, ClusterMaster node, CancellationToken ct)
    {
        foreach (var task in sent)
        {
            try
            {
                await task.WaitAsync(ct);
            }
            catch (RedisServerException e) when (tolerated is not null && e.Message.Contains(tolerated, StringComparison.Ordinal))
            {
            }
            catch (RedisException e)
            {
                // Observe the rest before leaving.
                try
                {
                    await Task.WhenAll(sent);
                }
                catch (Exception)
                {
                }
                throw new SlotMoveException($"{node} refused a slot command: {e.Message}", e);
            }
        }
    }

    private static ClusterNodeInfo Myself(ClusterMaster node, IReadOnlyList<ClusterNodeInfo> clusterNodes)
    {
        var myself = clusterNodes.FirstOrDefault(n => n.IsMyself)
            ?? throw new SlotMoveException($"{node} did not describe itself in CLUSTER NODES.");
        // Ports are reused: the node answering there now may not be the one planned for.
        if (myself.Id != node.ClusterId)
            throw new SlotMoveException($"{node.Host}:{node.Port} is node {myself.Id}, not {node.ClusterId}.");
        if (!myself.IsMaster)
            throw new SlotMoveException($"{node} is not a master.");
        return myself;
    }

    private static bool Owns(ClusterNodeInfo node, int slot) => node.Slots.Any(r => r.Start <= slot && slot <= r.End);

    // NoRedirect: an admin command is meant for this node alone; a MOVED or ASK is an answer, not a hint.
    private static Task<RedisResult> Execute(IServer server, string command, params object[] args) =>
        server.ExecuteAsync(command, args, CommandFlags.NoRedirect);

    private static bool SameEndpoint(ClusterMaster a, ClusterMaster b) => a.Port == b.Port && string.Equals(a.Host, b.Host, StringComparison.OrdinalIgnoreCase);

    private async Task<IServer> ServerAsync(ClusterMaster node, CancellationToken ct)
    {
        var connection = _connections.GetOrAdd(Key(node.Host, node.Port), _ => new NodeConnection(ConnectAsync));
        return await connection.ServerAsync(node.Host, node.Port, ct);
    }

    private Task<ConnectionMultiplexer> ConnectAsync(string host, int port, CancellationToken ct) =>
        NodeLogin.ConnectAsync(Transport.Apply(Options(host, port), host, port), secrets, ct);

    private NodeTransport Transport { get; } = transport ?? new NodeTransport();

    // A port that moved between plain text and TLS gets a connection of its own.
    private string Key(string host, int port) => Transport.ConnectionKey(host, port);

    private sealed record Batch(int Slot, List<RedisValue> Keys, long Bytes);

    private static ConfigurationOptions Options(string host, int port) => new()
    {
        EndPoints = { { host, port } },
        AllowAdmin = true,
        ConnectTimeout = 5000,
        // MIGRATE of a large key holds the source (and every command queued behind it) for a while.
        SyncTimeout = 60_000,
        AsyncTimeout = 60_000,
        ConnectRetry = 1,
        AbortOnConnectFail = true,
        BacklogPolicy = BacklogPolicy.FailFast,
        ConfigurationChannel = "",
        TieBreaker = "",
        ClientName = "controlplane-mover",
        // CLUSTER NODES as plain text, as ClusterNodesParser expects (RESP3 makes it a verbatim string).
        Protocol = RedisProtocol.Resp2,
    };

    [LoggerMessage(Level = LogLevel.Debug, Message = "Moved {Slots} slot(s) with {Keys} key(s) from {Source} to {Target}")]
    private static partial void LogChunkMoved(ILogger logger, int slots, long keys, string source, string target);

    [LoggerMessage(Level = LogLevel.Information, Message = "Moved {Moved} of {Asked} slot(s), {Keys} key(s), from {Source} to {Target} in {ElapsedMs:0} ms")]
    private static partial void LogMoved(ILogger logger, int moved, int asked, long keys, string source, string target, double elapsedMs);

    [LoggerMessage(Level = LogLevel.Warning, Message = "MIGRATE of {Keys} key(s) of slot {Slot} from {Source} timed out ({Reason}); sending them one at a time")]
    private static partial void LogBatchRetried(ILogger logger, int keys, int slot, string source, string reason);
}
