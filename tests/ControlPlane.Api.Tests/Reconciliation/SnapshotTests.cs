using System.Net;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using ControlPlane.Api.Runtime;
using ControlPlane.Api.Tests.Infrastructure;
using StackExchange.Redis;

namespace ControlPlane.Api.Tests.Reconciliation;

/// <summary>Snapshots on real engines: real .rdb files in the store, restored into new groups key for key.</summary>
public sealed class SnapshotTests(PostgresFixture postgres) : ReconcilerTest(postgres)
{
    [Theory]
    [InlineData("disabled", 1)]
    [InlineData("enabled", 3)]
    public async Task A_group_snapshotted_deleted_and_restored_comes_back_identical(string clusterMode, int shards)
    {
        var id = $"snap-{clusterMode[..3]}";
        var group = await CreateAsync(new { id, clusterMode, numShards = shards, replicasPerShard = 1 });
        Dataset original;
        await using (var client = await Scaling.ConnectAsync(group))
            original = await Dataset.LoadAsync(client, 50_000);

        await AssertAcceptedAsync(await PostAsync("/v1/snapshots", new { name = $"{id}-1", replicationGroupId = id }));
        Assert.Equal("snapshotting", (string?)(await BodyAsync(await Client.GetAsync($"/v1/replication-groups/{id}")))["status"]);
        var snapshot = await WaitForStatusAsync($"/v1/snapshots/{id}-1", "available");
        await WaitForStatusAsync($"/v1/replication-groups/{id}", "available");
        var files = snapshot["files"]!.AsArray();
        Assert.Equal(shards, files.Count);
        foreach (var file in files)
        {
            var path = Path.Combine(Factory.SnapshotDir, $"{id}-1", $"{file!["shardId"]}.rdb");
            Assert.Equal((long)file["sizeBytes"]!, new FileInfo(path).Length);
            Assert.Equal((string?)file["sha256"], Convert.ToHexStringLower(SHA256.HashData(await File.ReadAllBytesAsync(path))));
        }

        Assert.Equal(HttpStatusCode.Accepted, (await Client.DeleteAsync($"/v1/replication-groups/{id}")).StatusCode);
        await WaitUntilAsync(async () => (await Client.GetAsync($"/v1/replication-groups/{id}")).StatusCode == HttpStatusCode.NotFound,
            TimeSpan.FromSeconds(60), () => $"{id} was never deleted: {EventsText()}");

        var restored = await CreateAsync(new { id = $"{id}-back", clusterMode, numShards = shards, replicasPerShard = 1, restoreFromSnapshot = $"{id}-1" });
        await using (var client = await Scaling.ConnectAsync(restored))
        {
            try
            {
                await original.AssertSameAsync(client);
            }
            catch (Xunit.Sdk.XunitException e)
            {
                // What each node holds, seen directly rather than through the endpoint, says where to look.
                var counts = new List<string>();
                foreach (var node in restored["shards"]!.AsArray().SelectMany(s => s!["nodes"]!.AsArray()))
                    counts.Add($"{node!["id"]} ({node["role"]}, port {node["endpoint"]?["port"]}): {await Scaling.KeyCountAsync(node)} keys");
                throw new Xunit.Sdk.XunitException($"{e.Message}\nthrough {restored["primaryEndpoint"]?.ToJsonString()}; {string.Join("; ", counts)}\n"
                    + $"snapshot: {snapshot.ToJsonString()}\nevents: {EventsText()}");
            }
        }
        // The replicas hold it too.
        foreach (var replica in restored["shards"]!.AsArray().SelectMany(s => s!["nodes"]!.AsArray()).Where(n => (string?)n!["role"] == "replica"))
            Assert.True(await Scaling.KeyCountAsync(replica!) > 0);
    }

    [Theory]
    [InlineData("disabled", 1, 3)]
    [InlineData("enabled", 3, 2)]
    public async Task A_snapshot_restores_into_another_shard_count_by_moving_its_keys(string clusterMode, int from, int to)
    {
        var id = $"reshape-{clusterMode[..3]}";
        var group = await CreateAsync(new { id, clusterMode, numShards = from, replicasPerShard = 0, automaticFailover = clusterMode == "enabled", multiAz = false });
        Dataset original;
        await using (var client = await Scaling.ConnectAsync(group))
            original = await Dataset.LoadAsync(client, 20_000);
        await AssertAcceptedAsync(await PostAsync("/v1/snapshots", new { name = $"{id}-snap", replicationGroupId = id }));
        await WaitForStatusAsync($"/v1/snapshots/{id}-snap", "available");

        await AssertAcceptedAsync(await PostAsync("/v1/replication-groups",
            new { id = $"{id}-new", clusterMode = "enabled", numShards = to, replicasPerShard = 1, restoreFromSnapshot = $"{id}-snap" }));
        var restored = await WaitForStatusAsync($"/v1/replication-groups/{id}-new", "available", TimeSpan.FromMinutes(3));
        var shards = restored["shards"]!.AsArray();
        Assert.Equal(to, shards.Count);
        Assert.True(Domain.SlotRanges.IsBalanced(shards.Select(s => (string)s!["slots"]!)), restored.ToJsonString());
        Assert.Null(restored["pendingChanges"]);
        await using (var client = await Scaling.ConnectAsync(restored))
            await original.AssertSameAsync(client);
        await Scaling.AssertNoSlotOpenAsync(restored);
    }

    [Fact]
    public async Task A_delete_with_a_final_snapshot_takes_it_before_anything_is_removed()
    {
        var group = await CreateAsync(new { id = "leaving", replicasPerShard = 0, automaticFailover = false, multiAz = false });
        await using (var client = await Scaling.ConnectAsync(group))
            await client.GetDatabase().StringSetAsync("last-words", "kept");
        Assert.Equal(HttpStatusCode.Accepted, (await Client.DeleteAsync("/v1/replication-groups/leaving?finalSnapshotName=leaving-final")).StatusCode);
        await WaitUntilAsync(async () => (await Client.GetAsync("/v1/replication-groups/leaving")).StatusCode == HttpStatusCode.NotFound,
            TimeSpan.FromSeconds(60), () => $"never deleted: {EventsText()}");
        var snapshot = await BodyAsync(await Client.GetAsync("/v1/snapshots/leaving-final"));
        Assert.Equal(("available", 1), ((string?)snapshot["status"], snapshot["files"]!.AsArray().Count));

        var restored = await CreateAsync(new { id = "returning", replicasPerShard = 0, automaticFailover = false, multiAz = false, restoreFromSnapshot = "leaving-final" });
        await using var again = await Scaling.ConnectAsync(restored);
        Assert.Equal("kept", (string?)await again.GetDatabase().StringGetAsync("last-words"));
    }

    [Fact]
    public async Task A_damaged_file_is_refused_at_restore_and_nothing_is_created()
    {
        var group = await CreateAsync(new { id = "source", replicasPerShard = 0, automaticFailover = false, multiAz = false });
        await using (var client = await Scaling.ConnectAsync(group))
            await Scaling.LoadAsync(client, 1_000, "d");
        await AssertAcceptedAsync(await PostAsync("/v1/snapshots", new { name = "damaged", replicationGroupId = "source" }));
        await WaitForStatusAsync("/v1/snapshots/damaged", "available");
        var path = Path.Combine(Factory.SnapshotDir, "damaged", "0001.rdb");
        var bytes = await File.ReadAllBytesAsync(path);
        bytes[bytes.Length / 2] ^= 0xFF;
        await File.WriteAllBytesAsync(path, bytes);

        await AssertAcceptedAsync(await PostAsync("/v1/replication-groups", new { id = "from-damaged", replicasPerShard = 1, restoreFromSnapshot = "damaged" }));
        await WaitForStatusAsync("/v1/replication-groups/from-damaged", "create-failed");
        var events = (await BodyAsync(await Client.GetAsync("/v1/events?sourceId=from-damaged")))["items"]!.AsArray().Select(e => (string)e!["message"]!).ToList();
        Assert.Contains(events, e => e.Contains("does not match its checksum", StringComparison.Ordinal));
        foreach (var engine in Engines.Values)
            Assert.DoesNotContain(await OurContainersAsync(engine), c => c.Labels.TryGetValue(Labels.Group, out var g) && g == "from-damaged");
        Assert.Equal(0, await CountAsync(db => db.PortLeases.Where(l => l.NodeId.StartsWith("from-damaged"))));
    }

    private async Task<JsonObject> CreateAsync(object body)
    {
        var id = (string)(await AssertAcceptedAsync(await PostAsync("/v1/replication-groups", body)))["id"]!;
        return await WaitForStatusAsync($"/v1/replication-groups/{id}", "available");
    }
}

/// <summary>Keys of every type, some with a TTL, remembered so another group can be compared with them key for key.</summary>
public sealed class Dataset
{
    private readonly List<(string Key, RedisType Type, object Value, bool Expires)> _keys = [];

    public static async Task<Dataset> LoadAsync(ConnectionMultiplexer client, int count)
    {
        var data = new Dataset();
        var db = client.GetDatabase();
        var writes = new List<Task>();
        for (var i = 0; i < count; i++)
        {
            var key = $"{i % 5}:{i}";
            var expires = i % 7 == 0;
            switch (i % 5)
            {
                case 0:
                    writes.Add(db.StringSetAsync(key, $"value-{i}"));
                    data._keys.Add((key, RedisType.String, $"value-{i}", expires));
                    break;
                case 1:
                    HashEntry[] fields = [new("a", i), new("b", $"b{i}"), new("c", i * 2)];
                    writes.Add(db.HashSetAsync(key, fields));
                    data._keys.Add((key, RedisType.Hash, string.Join(",", fields.Select(f => $"{f.Name}={f.Value}")), expires));
                    break;
                case 2:
                    RedisValue[] items = [$"x{i}", $"y{i}", $"x{i}"];
                    writes.Add(db.ListRightPushAsync(key, items));
                    data._keys.Add((key, RedisType.List, string.Join(",", items), expires));
                    break;
                case 3:
                    RedisValue[] members = [$"m{i}", $"n{i}", "shared"];
                    writes.Add(db.SetAddAsync(key, members));
                    data._keys.Add((key, RedisType.Set, string.Join(",", members.Select(m => (string)m!).Order()), expires));
                    break;
                default:
                    SortedSetEntry[] entries = [new($"p{i}", i), new("q", -1.5), new($"r{i}", 0)];
                    writes.Add(db.SortedSetAddAsync(key, entries));
                    data._keys.Add((key, RedisType.SortedSet, string.Join(",", entries.OrderBy(e => e.Score).Select(e => $"{e.Element}:{e.Score}")), expires));
                    break;
            }
            if (expires)
                writes.Add(db.KeyExpireAsync(key, TimeSpan.FromHours(2)));
            if (writes.Count >= 5_000)
            {
                await Task.WhenAll(writes);
                writes.Clear();
            }
        }
        await Task.WhenAll(writes);
        return data;
    }

    /// <summary>Every key has the same type, value and expiry (an expiry, about the same) in the other group.</summary>
    public async Task AssertSameAsync(ConnectionMultiplexer client)
    {
        var db = client.GetDatabase();
        var wrong = new List<string>();
        foreach (var chunk in _keys.Chunk(5_000))
        {
            var seen = await Task.WhenAll(chunk.Select(async k => (Value: await ReadAsync(db, k.Key, k.Type), Ttl: await db.KeyTimeToLiveAsync(k.Key))));
            for (var i = 0; i < chunk.Length; i++)
            {
                var (key, _, value, expires) = chunk[i];
                var ttlRight = expires ? seen[i].Ttl is { } ttl && ttl > TimeSpan.FromHours(1.5) : seen[i].Ttl is null;
                if (!Equals(seen[i].Value, value) || !ttlRight)
                    wrong.Add($"{key} (read {seen[i].Value}, ttl {seen[i].Ttl})");
            }
        }
        Assert.True(wrong.Count == 0, $"{wrong.Count} of {_keys.Count} keys differ, e.g. {string.Join("; ", wrong.Take(5))}");
    }

    private static async Task<object?> ReadAsync(IDatabase db, string key, RedisType type) => type switch
    {
        RedisType.String => (string?)await db.StringGetAsync(key),
        RedisType.Hash => string.Join(",", (await db.HashGetAllAsync(key)).OrderBy(f => (string)f.Name!, StringComparer.Ordinal).Select(f => $"{f.Name}={f.Value}")),
        RedisType.List => string.Join(",", (await db.ListRangeAsync(key)).Select(v => (string)v!)),
        RedisType.Set => string.Join(",", (await db.SetMembersAsync(key)).Select(m => (string)m!).Order()),
        _ => string.Join(",", (await db.SortedSetRangeByRankWithScoresAsync(key)).Select(e => $"{e.Element}:{e.Score}")),
    };
}
