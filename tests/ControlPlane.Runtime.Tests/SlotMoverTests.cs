using System.Collections.Concurrent;
using System.Diagnostics;
using ControlPlane.Api.Engines;
using ControlPlane.Runtime.Tests.Infrastructure;
using Microsoft.Extensions.Logging.Abstractions;
using StackExchange.Redis;
using Xunit.Abstractions;

namespace ControlPlane.Runtime.Tests;

public sealed class SlotMoverTests(ITestOutputHelper output) : NodeTest
{
    private static readonly TimeSpan NoBudgetLimit = TimeSpan.FromMinutes(5);

    private readonly System.Collections.Concurrent.ConcurrentDictionary<int, Lazy<Task<ConnectionMultiplexer>>> _admin = new();
    private readonly List<IAsyncDisposable> _disposables = [];

    [Fact]
    public async Task Moves_twenty_thousand_keys_while_a_client_writes_and_loses_no_acknowledged_write()
    {
        var (ports, masters) = await StartClusterAsync();
        var (source, target) = (masters[0], masters[1]);
        var slots = Enumerable.Range(0, 2000).ToList();
        var client = await ClusterClientAsync(ports);
        var db = client.GetDatabase();
        var keys = KeysIn(client, slots, 24_000, "k");
        var loaded = keys[..20_000];
        var expected = new ConcurrentDictionary<string, string>(loaded.ToDictionary(k => k, k => $"v0:{k}"));
        await Task.WhenAll(loaded.Select(k => db.StringSetAsync(k, expected[k])));

        // One writer, each write awaited: a key's last acknowledged value is the one it must keep.
        using var stop = new CancellationTokenSource();
        var uncertain = new ConcurrentDictionary<string, string>();
        var writes = 0;
        var writer = Task.Run(async () =>
        {
            for (var n = 0; !stop.IsCancellationRequested; n++)
            {
                var key = n % 2 == 0 ? loaded[(int)((long)n * 7919 % loaded.Length)] : keys[20_000 + n / 2 % 4_000];
                var value = $"w{n}:{key}";
                try
                {
                    await db.StringSetAsync(key, value);
                    expected[key] = value;
                    uncertain.TryRemove(key, out _);
                    writes++;
                }
                catch (RedisException)
                {
                    uncertain[key] = value; // it may or may not have been applied
                }
            }
        });
        await Eventually.UntilAsync(() => Task.FromResult(Volatile.Read(ref writes)), w => w > 100, Deadline, "writing");

        await using var mover = new SlotMover(NullLogger<SlotMover>.Instance);
        var reported = new List<int>();
        var reportedKeys = 0L;
        var clock = Stopwatch.StartNew();
        var result = await mover.MoveAsync(source, target, [.. masters, source], slots, (done, moved) =>
        {
            reported.AddRange(done);
            reportedKeys += moved;
            return Task.CompletedTask;
        }, NoBudgetLimit, Ct);
        clock.Stop();
        var writesDuringMove = Volatile.Read(ref writes);
        await stop.CancelAsync();
        await writer;

        output.WriteLine($"moved {result.Moved.Count} slots, {result.KeysMoved} keys in {clock.ElapsedMilliseconds} ms: "
            + $"{result.KeysMoved / clock.Elapsed.TotalSeconds:0} keys/s; {writesDuringMove} writes acknowledged meanwhile, {uncertain.Count} uncertain");
        Assert.Equal(slots, result.Moved.Order());
        Assert.Equal(result.Moved, reported);
        Assert.Equal(result.KeysMoved, reportedKeys);
        Assert.InRange(result.KeysMoved, 20_000, 24_000);

        var values = await Task.WhenAll(expected.Keys.Select(async k => (Key: k, Value: (string?)await db.StringGetAsync(k))));
        Assert.All(values, v => Assert.True(v.Value == expected[v.Key] || uncertain.GetValueOrDefault(v.Key) == v.Value,
            $"{v.Key} is \"{v.Value}\", expected \"{expected[v.Key]}\""));
        await AssertSettledAsync(ports, target, slots);
        Assert.All(await CountKeysAsync(source.Port, slots), c => Assert.Equal(0, c));
    }

    [Fact]
    public async Task A_key_bigger_than_any_batch_moves()
    {
        var (ports, masters) = await StartClusterAsync();
        var (source, target) = (masters[0], masters[1]);
        var client = await ClusterClientAsync(ports);
        var db = client.GetDatabase();
        // Two hash tags in two slots of the source.
        var tags = KeysIn(client, [100, 101], 2, "t");
        var (big, huge) = (tags[0], tags[1]);
        var text = new byte[20 << 20];
        new Random(7).NextBytes(text);
        await db.StringSetAsync($"{big}string", text);
        for (var start = 0; start < 200_000; start += 10_000)
            await db.HashSetAsync($"{huge}hash", Enumerable.Range(start, 10_000).Select(i => new HashEntry($"f{i}", $"v{i}")).ToArray());
        await Task.WhenAll(Enumerable.Range(0, 500).Select(i => db.StringSetAsync($"{big}small{i}", $"s{i}")));
        var slots = new[] { client.HashSlot(big), client.HashSlot(huge) };

        await using var mover = new SlotMover(NullLogger<SlotMover>.Instance);
        var clock = Stopwatch.StartNew();
        var result = await mover.MoveAsync(source, target, masters, slots, (_, _) => Task.CompletedTask, NoBudgetLimit, Ct);
        output.WriteLine($"moved a 20 MiB string, a 200,000-field hash and 500 small keys in {clock.ElapsedMilliseconds} ms");

        Assert.Equal(502, result.KeysMoved);
        Assert.Equal(text, (byte[]?)await db.StringGetAsync($"{big}string"));
        Assert.Equal(200_000, await db.HashLengthAsync($"{huge}hash"));
        Assert.Equal("v199999", (string?)await db.HashGetAsync($"{huge}hash", "f199999"));
        Assert.Equal("s499", (string?)await db.StringGetAsync($"{big}small499"));
        await AssertSettledAsync(ports, target, slots);
        Assert.Equal(new[] { 0, 0 }, await CountKeysAsync(source.Port, slots));
        Assert.Equal(new[] { 501, 1 }, await CountKeysAsync(target.Port, slots));
    }

    [Fact]
    public async Task Half_moved_slots_are_finished_and_none_is_left_open()
    {
        var (ports, masters) = await StartClusterAsync();
        var (source, target) = (masters[0], masters[1]);
        var client = await ClusterClientAsync(ports);
        var db = client.GetDatabase();
        var slots = Enumerable.Range(200, 10).ToList();
        var keys = KeysIn(client, slots, 300, "r");
        await Task.WhenAll(keys.Select(k => db.StringSetAsync(k, $"v:{k}")));
        var bySlot = keys.GroupBy(k => client.HashSlot(k)).ToDictionary(g => g.Key, g => g.ToArray());
        Assert.Equal(slots, bySlot.Keys.Order());

        // The rules the mover relies on, as Redis 7.0 states them.
        var ownerImports = await Assert.ThrowsAsync<RedisServerException>(() => AdminAsync(source.Port, "CLUSTER", "SETSLOT", 209, "IMPORTING", target.ClusterId));
        Assert.Contains("I'm already the owner of hash slot", ownerImports.Message);
        var strangerMigrates = await Assert.ThrowsAsync<RedisServerException>(() => AdminAsync(target.Port, "CLUSTER", "SETSLOT", 209, "MIGRATING", source.ClusterId));
        Assert.Contains("I'm not the owner of hash slot", strangerMigrates.Message);
        var crossSlot = await Assert.ThrowsAsync<RedisServerException>(() =>
            AdminAsync(source.Port, "MIGRATE", Loopback, target.Port, "", 0, 5000, "KEYS", bySlot[208][0], bySlot[209][0]));
        Assert.Contains("CROSSSLOT", crossSlot.Message);

        async Task Open(int slot)
        {
            await AdminAsync(target.Port, "CLUSTER", "SETSLOT", slot, "IMPORTING", source.ClusterId);
            await AdminAsync(source.Port, "CLUSTER", "SETSLOT", slot, "MIGRATING", target.ClusterId);
        }
        Task Migrate(IEnumerable<string> some, params string[] options) =>
            AdminAsync(source.Port, ["MIGRATE", Loopback, target.Port, "", 0, 5000, .. options, "KEYS", .. some]);

        // 200: open, half its keys moved, and one key on both sides whose source copy changed since.
        await Open(200);
        await Migrate(bySlot[200].Take(bySlot[200].Length / 2));
        var both = bySlot[200][^1];
        await Migrate([both], "COPY", "REPLACE");
        await AdminAsync(source.Port, "SET", both, "newer");
        // 201: importing on the target only (a crash between the two SETSLOTs).
        await AdminAsync(target.Port, "CLUSTER", "SETSLOT", 201, "IMPORTING", source.ClusterId);
        // 202: every key moved, SETSLOT NODE done on the target only.
        await Open(202);
        await Migrate(bySlot[202]);
        await AdminAsync(target.Port, "CLUSTER", "SETSLOT", 202, "NODE", target.ClusterId);
        // 203: switched on target and source, not on the third master.
        await Open(203);
        await Migrate(bySlot[203]);
        await AdminAsync(target.Port, "CLUSTER", "SETSLOT", 203, "NODE", target.ClusterId);
        await AdminAsync(source.Port, "CLUSTER", "SETSLOT", 203, "NODE", target.ClusterId);
        // 204: fully moved already.
        await Open(204);
        await Migrate(bySlot[204]);
        foreach (var port in ports)
            await AdminAsync(port, "CLUSTER", "SETSLOT", 204, "NODE", target.ClusterId);

        await using var mover = new SlotMover(NullLogger<SlotMover>.Instance);
        var result = await mover.MoveAsync(source, target, masters, slots, (_, _) => Task.CompletedTask, NoBudgetLimit, Ct);

        Assert.Equal(slots, result.Moved.Order());
        await AssertSettledAsync(ports, target, slots);
        Assert.All(await CountKeysAsync(source.Port, slots), c => Assert.Equal(0, c));
        Assert.Equal(slots.Select(s => bySlot[s].Length), await CountKeysAsync(target.Port, slots));
        foreach (var key in keys)
            Assert.Equal(key == both ? "newer" : $"v:{key}", (string?)await db.StringGetAsync(key));
    }

    [Fact]
    public async Task A_spent_budget_returns_the_slots_finished_and_a_second_call_moves_the_rest()
    {
        var (ports, masters) = await StartClusterAsync();
        var (source, target) = (masters[0], masters[1]);
        var client = await ClusterClientAsync(ports);
        var db = client.GetDatabase();
        var slots = Enumerable.Range(300, 40).ToList();
        var keys = KeysIn(client, slots, 400, "b");
        await Task.WhenAll(keys.Select(k => db.StringSetAsync(k, $"v:{k}")));
        var counts = (await CountKeysAsync(source.Port, slots)).Zip(slots).ToDictionary(p => p.Second, p => p.First);

        await using var mover = new SlotMover(NullLogger<SlotMover>.Instance) { SlotsPerChunk = 8 };
        var reports = new List<(IReadOnlyList<int> Slots, long Keys)>();
        Task Record(IReadOnlyList<int> done, long moved)
        {
            reports.Add((done, moved));
            return Task.CompletedTask;
        }

        var first = await mover.MoveAsync(source, target, masters, slots, Record, TimeSpan.Zero, Ct);

        // The first chunk is always moved, and nothing after it.
        Assert.Equal(slots[..8], first.Moved);
        Assert.Equal(first.Moved, Assert.Single(reports).Slots);
        Assert.Equal(first.Moved.Sum(s => counts[s]), first.KeysMoved);
        Assert.Equal(first.KeysMoved, reports[0].Keys);
        await AssertSettledAsync(ports, target, first.Moved);
        await AssertSettledAsync(ports, source, slots[8..]);

        reports.Clear();
        var rest = await mover.MoveAsync(source, target, masters, slots[8..], Record, NoBudgetLimit, Ct);
        Assert.Equal(slots[8..], rest.Moved);
        Assert.Equal(rest.Moved, reports.SelectMany(r => r.Slots));
        Assert.Equal(4, reports.Count);
        Assert.Equal(keys.Length - first.KeysMoved, rest.KeysMoved);

        // Asked again, moved slots are reported done with nothing to move.
        var again = await mover.MoveAsync(source, target, masters, slots, (_, _) => Task.CompletedTask, NoBudgetLimit, Ct);
        Assert.Equal(slots, again.Moved);
        Assert.Equal(0, again.KeysMoved);
        await AssertSettledAsync(ports, target, slots);
        foreach (var key in keys)
            Assert.Equal($"v:{key}", (string?)await db.StringGetAsync(key));
    }

    /// <summary>Every node sees <paramref name="owner"/> own <paramref name="slots"/>, and no slot is IMPORTING or MIGRATING anywhere.</summary>
    private async Task AssertSettledAsync(int[] ports, ClusterMaster owner, IEnumerable<int> slots)
    {
        foreach (var port in ports)
        {
            var nodes = await Redis.ClusterNodesAsync(Loopback, port, Ct);
            Assert.All(nodes, n => Assert.Empty(n.Migrations));
            var owned = nodes.Single(n => n.Id == owner.ClusterId).Slots;
            Assert.All(slots, s => Assert.True(owned.Any(r => r.Start <= s && s <= r.End), $"{port} does not see slot {s} on {owner}"));
        }
    }

    private async Task<int[]> CountKeysAsync(int port, IEnumerable<int> slots) =>
        (await Task.WhenAll(slots.Select(s => AdminAsync(port, "CLUSTER", "COUNTKEYSINSLOT", s)))).Select(r => (int)r).ToArray();

    /// <summary>Distinct key names that hash to <paramref name="slots"/>, every slot getting at least one.</summary>
    private static string[] KeysIn(ConnectionMultiplexer client, IReadOnlyCollection<int> slots, int count, string prefix)
    {
        var wanted = slots.ToHashSet();
        var covered = new HashSet<int>();
        var keys = new List<string>(count);
        for (var i = 0; covered.Count < wanted.Count; i++)
        {
            var key = $"{prefix}{{{i}}}";
            if (wanted.Contains(client.HashSlot(key)) && covered.Add(client.HashSlot(key)))
                keys.Add(key);
        }
        for (var i = 0; keys.Count < count; i++)
        {
            var key = $"{prefix}:{i}";
            if (wanted.Contains(client.HashSlot(key)))
                keys.Add(key);
        }
        return [.. keys];
    }

    /// <summary>
    /// One admin connection per node, made by the first caller and awaited by the rest: a count over
    /// hundreds of slots once opened a connection per slot at the same moment, and on a loaded machine
    /// some missed the connect timeout.
    /// </summary>
    private async Task<RedisResult> AdminAsync(int port, params object[] args)
    {
        var connection = await _admin.GetOrAdd(port, p => new Lazy<Task<ConnectionMultiplexer>>(() => ConnectionMultiplexer.ConnectAsync(new ConfigurationOptions
        {
            EndPoints = { { Loopback, p } },
            AllowAdmin = true,
            Protocol = RedisProtocol.Resp2,
            ConnectTimeout = 30_000,
            AsyncTimeout = 30_000,
        }))).Value;
        return await connection.GetServer(Loopback, port).ExecuteAsync((string)args[0], args[1..], CommandFlags.NoRedirect);
    }

    private async Task<ConnectionMultiplexer> ClusterClientAsync(int[] ports)
    {
        var options = new ConfigurationOptions { AsyncTimeout = 30_000 };
        foreach (var port in ports)
            options.EndPoints.Add(Loopback, port);
        var client = await ConnectionMultiplexer.ConnectAsync(options);
        _disposables.Add(client);
        return client;
    }

    /// <summary>Three cluster-enabled masters with the even split of slots, all seeing cluster_state:ok, and their ids.</summary>
    private async Task<(int[] Ports, ClusterMaster[] Masters)> StartClusterAsync()
    {
        var ports = await StartClusterAsync(('a', "n0"), ('b', "n1"), ('c', "n2"));
        var masters = new ClusterMaster[ports.Length];
        for (var i = 0; i < ports.Length; i++)
            masters[i] = new ClusterMaster(Loopback, ports[i], await Redis.ClusterMyIdAsync(Loopback, ports[i], Ct));
        return (ports, masters);
    }

    public override async Task DisposeAsync()
    {
        foreach (var connection in _admin.Values.Where(c => c.IsValueCreated && c.Value.IsCompletedSuccessfully))
            await connection.Value.Result.DisposeAsync();
        foreach (var disposable in _disposables)
            await disposable.DisposeAsync();
        await base.DisposeAsync();
    }
}
