using System.Diagnostics;
using System.Net;
using System.Text.Json.Nodes;
using ControlPlane.Api.Runtime;
using ControlPlane.Api.Tests.Infrastructure;
using StackExchange.Redis;

namespace ControlPlane.Api.Tests.Reconciliation;

/// <summary>Online modifications on real engines: replicas, shards with slot migration, node types; no key lost.</summary>
public sealed class ScalingTests(PostgresFixture postgres) : ReconcilerTest(postgres)
{

    [Theory]
    [InlineData("disabled")]
    [InlineData("enabled")]
    public async Task Replicas_go_from_one_to_three_to_none_with_the_data_intact(string clusterMode)
    {
        var id = $"replicas-{clusterMode[..3]}";
        var group = await CreateAsync(new { id, clusterMode, replicasPerShard = 1 });
        await using var client = await Scaling.ConnectAsync(group);
        var keys = await Scaling.LoadAsync(client, 2_000, "r");

        await AssertAcceptedAsync(await PatchAsync($"/v1/replication-groups/{id}", new { replicasPerShard = 3 }));
        group = await WaitForStatusAsync($"/v1/replication-groups/{id}", "available");
        var nodes = Nodes(group);
        Assert.Equal(4, nodes.Count);
        Assert.All(nodes, n => Assert.Equal("available", (string?)n["status"]));
        Assert.Equal(3, nodes.Count(n => (string?)n["role"] == "replica"));
        // Every new replica counts only once it holds the data.
        foreach (var node in nodes)
            Assert.Equal(keys.Count, await Scaling.KeyCountAsync(node));

        // Down to none: automatic failover and Multi-AZ need a replica, so they go in the same request (cluster mode enabled keeps failover on).
        object down = clusterMode == "disabled" ? new { replicasPerShard = 0, automaticFailover = false, multiAz = false } : new { replicasPerShard = 0, multiAz = false };
        await AssertAcceptedAsync(await PatchAsync($"/v1/replication-groups/{id}", down));
        group = await WaitForStatusAsync($"/v1/replication-groups/{id}", "available");
        var primary = Assert.Single(Nodes(group));
        Assert.Equal("primary", (string?)primary["role"]);
        Assert.Equal(nodes.Single(n => (string?)n["role"] == "primary")["id"]!.ToString(), primary["id"]!.ToString());
        await Scaling.AssertAllPresentAsync(client, keys);
        var containers = new List<string>();
        foreach (var engine in Engines.Values)
            containers.AddRange((await OurContainersAsync(engine))
                .Where(c => c.Labels.TryGetValue(Labels.Group, out var g) && g == id && c.Labels.TryGetValue(Labels.Kind, out var k) && k == "redis")
                .Select(c => c.Labels[Labels.Node]));
        Assert.Equal([(string)primary["id"]!], containers);
        var events = await MessagesAsync(id);
        Assert.Contains(events, e => e.StartsWith("Added cache node ", StringComparison.Ordinal));
        Assert.Equal(3, events.Count(e => e.StartsWith("Removed cache node ", StringComparison.Ordinal)));
        Assert.Null(group["pendingChanges"]);

        // A replica added again gets an id none of the removed nodes had.
        await AssertAcceptedAsync(await PatchAsync($"/v1/replication-groups/{id}", new { replicasPerShard = 1 }));
        group = await WaitForStatusAsync($"/v1/replication-groups/{id}", "available");
        var added = Assert.Single(Nodes(group), n => (string?)n["role"] == "replica");
        Assert.DoesNotContain((string)added["id"]!, nodes.Select(n => (string)n["id"]!));
    }

    [Fact]
    public async Task Shards_go_from_three_to_five_to_two_with_every_key_and_every_acknowledged_write_kept()
    {
        var group = await CreateAsync(new { id = "reshard", clusterMode = "enabled", numShards = 3, replicasPerShard = 0 });
        await using var client = await Scaling.ConnectAsync(group);
        var keys = await Scaling.LoadAsync(client, 100_000, "k");
        await using var writer = Scaling.ClusterWriter.Start(client);

        await AssertAcceptedAsync(await PatchAsync("/v1/replication-groups/reshard", new { numShards = 5 }));
        var progress = new List<double>();
        group = await WaitForStatusAsync("/v1/replication-groups/reshard", "available", TimeSpan.FromMinutes(3), progress);
        AssertShards(group, 5);
        Assert.Contains(progress, p => p < 100);

        await AssertAcceptedAsync(await PatchAsync("/v1/replication-groups/reshard", new { numShards = 2 }));
        group = await WaitForStatusAsync("/v1/replication-groups/reshard", "available", TimeSpan.FromMinutes(3));
        AssertShards(group, 2);

        var acknowledged = await writer.StopAsync();
        Assert.True(acknowledged.Count > 50, $"the writer got only {acknowledged.Count} writes through");
        await Scaling.AssertAllPresentAsync(client, keys);
        await Scaling.AssertAllPresentAsync(client, acknowledged);
        await Scaling.AssertNoSlotOpenAsync(group);
        var events = await MessagesAsync("reshard");
        Assert.Contains(events, e => e.StartsWith("Slot migration started: ", StringComparison.Ordinal));
        Assert.Contains("Removed node group 0003", events);
    }

    [Fact]
    public async Task A_primary_killed_during_a_slot_migration_fails_over_and_the_migration_finishes_with_nothing_lost()
    {
        var group = await CreateAsync(new { id = "fault", clusterMode = "enabled", numShards = 3, replicasPerShard = 1 });
        await using var client = await Scaling.ConnectAsync(group);
        var keys = await Scaling.LoadAsync(client, 60_000, "f");
        var victim = Nodes(group).Single(n => (string?)n["role"] == "primary" && ((string)n["id"]!).StartsWith("fault-0001", StringComparison.Ordinal));
        await using var writer = Scaling.ClusterWriter.Start(client);

        await AssertAcceptedAsync(await PatchAsync("/v1/replication-groups/fault", new { numShards = 5 }));
        JsonObject? last = null;
        await WaitUntilAsync(async () =>
        {
            last = await BodyAsync(await Client.GetAsync("/v1/replication-groups/fault"));
            return (double?)last["pendingChanges"]?["slotMigration"]?["progressPercentage"] > 0;
        }, TimeSpan.FromMinutes(1), () => $"the migration never started: {last?.ToJsonString()}");
        using (var docker = Docker(Engines[(string)victim["availabilityZone"]!]))
            await docker.Containers.KillContainerAsync($"{Instance}-{victim["id"]}", new Docker.DotNet.Models.ContainerKillParameters { Signal = "SIGKILL" });
        last = await BodyAsync(await Client.GetAsync("/v1/replication-groups/fault"));
        Assert.True((double?)last["pendingChanges"]?["slotMigration"]?["progressPercentage"] < 100, $"the kill came after the migration: {last.ToJsonString()}");

        group = await WaitForStatusAsync("/v1/replication-groups/fault", "available", TimeSpan.FromMinutes(3));
        AssertShards(group, 5);
        Assert.DoesNotContain(Nodes(group), n => (string?)n["id"] == (string?)victim["id"]);
        var acknowledged = await writer.StopAsync();
        await using var fresh = await Scaling.ConnectAsync(group);
        await Scaling.AssertAllPresentAsync(fresh, keys);
        await Scaling.AssertAllPresentAsync(fresh, acknowledged);
        await Scaling.AssertNoSlotOpenAsync(group);
        Assert.Contains(await MessagesAsync("fault"), e => e.StartsWith($"Failover from primary node {victim["id"]}", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_reshard_the_engines_keep_refusing_is_given_up_with_the_group_usable_and_nothing_lost()
    {
        var group = await CreateAsync(new { id = "refused", clusterMode = "enabled", numShards = 1, replicasPerShard = 0 });
        await using var client = await Scaling.ConnectAsync(group);
        var keys = await Scaling.LoadAsync(client, 20_000, "o");

        await AssertAcceptedAsync(await PatchAsync("/v1/replication-groups/refused", new { numShards = 2 }));
        // The new shard's primary takes no data at all: every MIGRATE to it is refused (OOM).
        string? why = null;
        await WaitUntilAsync(async () =>
        {
            var now = await BodyAsync(await Client.GetAsync("/v1/replication-groups/refused"));
            why = now.ToJsonString();
            if (now["shards"]!.AsArray().FirstOrDefault(s => (string?)s!["id"] == "0002")?["nodes"]?[0]?["endpoint"] is not { } endpoint)
                return false;
            try
            {
                await using var fresh = await AdminAsync(endpoint);
                await fresh.GetServers()[0].ConfigSetAsync("maxmemory", "1");
                return true;
            }
            catch (RedisException e)
            {
                why = e.Message;
                return false;
            }
        }, TimeSpan.FromSeconds(30), () => $"the new shard's primary never answered: {why}\n{EventsText()}");

        group = await WaitForStatusAsync("/v1/replication-groups/refused", "available", TimeSpan.FromMinutes(2));
        Assert.Equal(2, (int)group["numShards"]!);
        Assert.Null(group["pendingChanges"]);
        Assert.Contains(await MessagesAsync("refused"), e => e.StartsWith("Modification of replication group refused failed and was stopped: ", StringComparison.Ordinal));
        Assert.Equal(0, await CountAsync(db => db.SlotMoves));
        await using var again = await Scaling.ConnectAsync(group);
        await Scaling.AssertAllPresentAsync(again, keys);
        await Scaling.AssertNoSlotOpenAsync(group);
        // Usable: the next modification is accepted.
        await AssertAcceptedAsync(await PatchAsync("/v1/replication-groups/refused", new { description = "still here" }));
    }

    [Fact]
    public async Task Nodes_left_by_an_older_configuration_are_replaced_online_after_an_upgrade()
    {
        var group = await CreateAsync(new { id = "upgraded", replicasPerShard = 1 });
        List<string> keys;
        await using (var client = await Scaling.ConnectAsync(group))
            keys = await Scaling.LoadAsync(client, 5_000, "u");
        var before = Nodes(group).Select(n => (string)n["id"]!).ToList();

        // The control plane restarts with another node configuration (cache.small gets more CPU): the running nodes are outdated.
        await Factory.DisposeAsync();
        var upgraded = Settings.ToDictionary();
        upgraded["ControlPlane:NodeTypes:1:Name"] = "cache.small";
        upgraded["ControlPlane:NodeTypes:1:MemoryMiB"] = "512";
        upgraded["ControlPlane:NodeTypes:1:Cpus"] = "0.6";
        Factory = new ApiFactory(ConnectionString, upgraded, fakeClock: false);
        Client = Factory.CreateClient();

        await WaitUntilAsync(async () => (await MessagesAsync("upgraded")).Any(e => e.StartsWith("Replacing cache nodes ", StringComparison.Ordinal)),
            TimeSpan.FromSeconds(30), () => $"the outdated nodes were never noticed: {EventsText()}");
        group = await WaitForStatusAsync("/v1/replication-groups/upgraded", "available", TimeSpan.FromMinutes(2));
        var nodes = Nodes(group);
        Assert.Equal(2, nodes.Count);
        Assert.DoesNotContain(nodes, n => before.Contains((string)n["id"]!));
        await using (var client = await Scaling.ConnectAsync(group))
            await Scaling.AssertAllPresentAsync(client, keys);
        foreach (var node in nodes)
        {
            using var docker = Docker(Engines[(string)node["availabilityZone"]!]);
            var inspect = await docker.Containers.InspectContainerAsync($"{Instance}-{node["id"]}");
            Assert.Equal(600_000_000L, inspect.HostConfig?.NanoCPUs);
        }
    }

    [Fact]
    public async Task Scale_in_is_refused_with_nothing_changed_when_the_data_would_not_fit()
    {
        var group = await CreateAsync(new { id = "full", clusterMode = "enabled", numShards = 2, replicasPerShard = 0, nodeType = "cache.micro" });
        await using var client = await Scaling.ConnectAsync(group);
        // About 80 MiB over two shards of 96 MiB each; one shard may only be filled to 72 MiB.
        var value = new string('x', 100_000);
        var db = client.GetDatabase();
        await Task.WhenAll(Enumerable.Range(0, 800).Select(i => db.StringSetAsync($"big:{i}", value)));

        var refused = await PatchAsync("/v1/replication-groups/full", new { numShards = 1 });
        var problem = await AssertProblemAsync(refused, HttpStatusCode.BadRequest, "InvalidParameterValue", "numShards");
        Assert.Contains("does not fit", problem.ToJsonString(), StringComparison.Ordinal);
        var after = await BodyAsync(await Client.GetAsync("/v1/replication-groups/full"));
        Assert.Equal(("available", 2), ((string?)after["status"], after["shards"]!.AsArray().Count));
        Assert.Equal(2, (int)after["numShards"]!);
        Assert.DoesNotContain(await MessagesAsync("full"), e => e.StartsWith("Modification requested", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("disabled")]
    [InlineData("enabled")]
    public async Task A_node_type_change_replaces_every_node_online_with_the_data_intact(string clusterMode)
    {
        var id = $"retype-{clusterMode[..3]}";
        var group = await CreateAsync(new { id, clusterMode, replicasPerShard = 1, nodeType = "cache.micro" });
        List<string> keys;
        await using (var client = await Scaling.ConnectAsync(group))
            keys = await Scaling.LoadAsync(client, 5_000, "t");
        var before = Nodes(group).Select(n => (string)n["id"]!).ToList();

        await AssertAcceptedAsync(await PatchAsync($"/v1/replication-groups/{id}", new { nodeType = "cache.small" }));
        group = await WaitForStatusAsync($"/v1/replication-groups/{id}", "available", TimeSpan.FromMinutes(2));
        Assert.Equal("cache.small", (string?)group["nodeType"]);
        var nodes = Nodes(group);
        Assert.Equal(2, nodes.Count);
        Assert.DoesNotContain(nodes, n => before.Contains((string)n["id"]!));
        foreach (var node in nodes)
        {
            await using var direct = await AdminAsync(node["endpoint"]!);
            var maxmemory = (await direct.GetServers()[0].ConfigGetAsync("maxmemory")).Single().Value;
            Assert.Equal($"{384L * 1024 * 1024}", maxmemory); // cache.small: 512 MiB, three quarters for data
            Assert.Equal(keys.Count, await Scaling.KeyCountAsync(node));
        }
        // Every node the client first knew is gone: it connects again, as an application's client would.
        await using (var client = await Scaling.ConnectAsync(group))
            await Scaling.AssertAllPresentAsync(client, keys);
        Assert.Contains(await MessagesAsync(id), e => e.StartsWith($"Failover from primary node {id}-0001-001", StringComparison.Ordinal));
    }

    private async Task<JsonObject> CreateAsync(object body)
    {
        var response = await PostAsync("/v1/replication-groups", body);
        var id = (string)(await AssertAcceptedAsync(response))["id"]!;
        return await WaitForStatusAsync($"/v1/replication-groups/{id}", "available");
    }

    /// <summary>Polls for the status, noting each slot migration progress seen on the way.</summary>
    private async Task<JsonObject> WaitForStatusAsync(string path, string status, TimeSpan timeout, List<double> progress)
    {
        JsonObject? last = null;
        await WaitUntilAsync(async () =>
        {
            last = await BodyAsync(await Client.GetAsync(path));
            if (last["pendingChanges"]?["slotMigration"]?["progressPercentage"] is { } p)
                progress.Add((double)p);
            return (string?)last["status"] == status;
        }, timeout, () => $"{path} never became {status}: {last?.ToJsonString()}\n{EventsText()}");
        return last!;
    }

    private static void AssertShards(JsonObject group, int count)
    {
        var shards = group["shards"]!.AsArray();
        Assert.Equal(count, shards.Count);
        Assert.Equal(count, (int)group["numShards"]!);
        Assert.All(shards, s => Assert.Equal("available", (string?)s!["status"]));
        Assert.True(Domain.SlotRanges.IsBalanced(shards.Select(s => (string)s!["slots"]!)), group.ToJsonString());
    }

    private static List<JsonObject> Nodes(JsonObject group) =>
        group["shards"]!.AsArray().SelectMany(s => s!["nodes"]!.AsArray()).Select(n => n!.AsObject()).ToList();

    private async Task<List<string>> MessagesAsync(string id) =>
        (await BodyAsync(await Client.GetAsync($"/v1/events?sourceId={id}&limit=100")))["items"]!.AsArray().Select(e => (string)e!["message"]!).ToList();
}

/// <summary>Client-side helpers of the scaling tests: connect as an application would, load, verify.</summary>
public static class Scaling
{
    /// <summary>The application's view: the primary endpoint, or the configuration endpoint with cluster discovery.</summary>
    public static Task<ConnectionMultiplexer> ConnectAsync(JsonObject group)
    {
        var endpoint = group["configurationEndpoint"] ?? group["primaryEndpoint"]!;
        return ConnectionMultiplexer.ConnectAsync(new ConfigurationOptions
        {
            EndPoints = { RedisCreateTests.Endpoint(endpoint) },
            AllowAdmin = true,
            AbortOnConnectFail = false,
            SyncTimeout = 10_000,
            AsyncTimeout = 10_000,
        });
    }

    public static Task<ConnectionMultiplexer> DirectAsync(JsonNode node) =>
        ConnectionMultiplexer.ConnectAsync(new ConfigurationOptions { EndPoints = { RedisCreateTests.Endpoint(node["endpoint"]!) }, AllowAdmin = true });

    /// <summary>Writes count keys (value = key) in pipelined chunks; returns the keys.</summary>
    public static async Task<List<string>> LoadAsync(ConnectionMultiplexer client, int count, string prefix)
    {
        var db = client.GetDatabase();
        var keys = Enumerable.Range(0, count).Select(i => $"{prefix}:{i}").ToList();
        foreach (var chunk in keys.Chunk(10_000))
            await Task.WhenAll(chunk.Select(k => db.StringSetAsync(k, k)));
        return keys;
    }

    /// <summary>Every key is there with its value (the value of each key is the key itself).</summary>
    public static async Task AssertAllPresentAsync(ConnectionMultiplexer client, IReadOnlyList<string> keys)
    {
        var db = client.GetDatabase();
        var missing = new List<string>();
        foreach (var chunk in keys.Chunk(10_000))
        {
            var values = await Task.WhenAll(chunk.Select(k => db.StringGetAsync(k)));
            missing.AddRange(chunk.Where((k, i) => values[i] != k));
        }
        Assert.True(missing.Count == 0, $"{missing.Count} of {keys.Count} keys are missing or wrong, e.g. {string.Join(", ", missing.Take(5))}");
    }

    public static async Task<long> KeyCountAsync(JsonNode node)
    {
        await using var direct = await DirectAsync(node);
        var server = direct.GetServers()[0];
        // A replica counts once its sync has finished; give a fresh one a moment.
        var deadline = Stopwatch.StartNew();
        long count;
        while ((count = await server.DatabaseSizeAsync()) == 0 && deadline.Elapsed < TimeSpan.FromSeconds(5))
            await Task.Delay(100);
        return count;
    }

    /// <summary>No node shows a slot importing or migrating, every node serves all 16384 slots, state ok.</summary>
    public static async Task AssertNoSlotOpenAsync(JsonObject group)
    {
        foreach (var node in group["shards"]!.AsArray().SelectMany(s => s!["nodes"]!.AsArray()))
        {
            await using var direct = await DirectAsync(node!);
            var server = direct.GetServers()[0];
            var nodes = (string)(await server.ExecuteAsync("CLUSTER", "NODES"))!;
            Assert.DoesNotContain("[", nodes, StringComparison.Ordinal);
            var info = (string)(await server.ExecuteAsync("CLUSTER", "INFO"))!;
            Assert.Contains("cluster_state:ok", info, StringComparison.Ordinal);
            Assert.Contains("cluster_slots_assigned:16384", info, StringComparison.Ordinal);
        }
    }

    /// <summary>Writes a new key every few milliseconds through the cluster client and keeps those it got an OK for. Bounded to three minutes.</summary>
    public sealed class ClusterWriter : IAsyncDisposable
    {
        private readonly CancellationTokenSource _stop = new(TimeSpan.FromMinutes(3));
        private readonly List<string> _acknowledged = [];
        private Task _loop = Task.CompletedTask;

        public static ClusterWriter Start(ConnectionMultiplexer client)
        {
            var writer = new ClusterWriter();
            writer._loop = Task.Run(() => writer.RunAsync(client.GetDatabase()));
            return writer;
        }

        private async Task RunAsync(IDatabase db)
        {
            for (var i = 0; !_stop.IsCancellationRequested; i++)
            {
                var key = $"w:{i}";
                try
                {
                    if (await db.StringSetAsync(key, key))
                        _acknowledged.Add(key);
                }
                catch (RedisException)
                {
                    // Not acknowledged: it may or may not be there; only acknowledged writes must be.
                }
                await Task.Delay(5);
            }
        }

        public async Task<IReadOnlyList<string>> StopAsync()
        {
            await _stop.CancelAsync();
            await _loop;
            return _acknowledged;
        }

        public async ValueTask DisposeAsync()
        {
            await _stop.CancelAsync();
            await _loop;
            _stop.Dispose();
        }
    }
}
