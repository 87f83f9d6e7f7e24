using System.Diagnostics;
using System.Text.Json.Nodes;
using ControlPlane.Api.Tests.Infrastructure;
using StackExchange.Redis;

namespace ControlPlane.Api.Tests.Reconciliation;

/// <summary>Parameter groups applied to real Redis 7.0 and Valkey 8.0 nodes, observed by a client.</summary>
public sealed class ParameterGroupTests(PostgresFixture postgres) : ReconcilerTest(postgres)
{
    [Theory]
    [InlineData("redis", "redis7")]
    [InlineData("valkey", "valkey8")]
    public async Task A_client_receives_expiry_events_once_the_group_takes_a_parameter_group_with_them(string engine, string family)
    {
        var id = $"events-{engine}";
        await PostAsync("/v1/parameter-groups", new { name = $"{id}-params", family });
        await AssertOkAsync(await PatchAsync($"/v1/parameter-groups/{id}-params", new { parameters = new Dictionary<string, string> { ["notify-keyspace-events"] = "Ex" } }));
        await AssertAcceptedAsync(await PostAsync("/v1/replication-groups", new { id, engine, replicasPerShard = 1 }));
        var group = await WaitForStatusAsync($"/v1/replication-groups/{id}", "available");
        Assert.Equal($"default.{family}", (string?)group["parameterGroupName"]);

        // Applied online: no node is replaced, every node says in-sync within 30 s.
        var before = NodeIds(group);
        var patched = await AssertAcceptedAsync(await PatchAsync($"/v1/replication-groups/{id}", new { parameterGroupName = $"{id}-params" }));
        Assert.Equal("available", (string?)patched["status"]);
        var clock = Stopwatch.StartNew();
        group = await WaitForNodesAsync(id, "in-sync", TimeSpan.FromSeconds(30));
        Assert.Equal(before, NodeIds(group));
        // The contract's promise is the value on every node within 30 s of the change; read it there.
        var values = new Dictionary<string, string?>();
        await WaitUntilAsync(async () =>
        {
            foreach (var node in Nodes(group))
            {
                await using var direct = await AdminAsync(node["endpoint"]!);
                values[(string)node["id"]!] = (string?)(await direct.GetServers()[0].ConfigGetAsync("notify-keyspace-events")).Single().Value;
            }
            return values.Values.All(v => v == "xE");
        }, TimeSpan.FromSeconds(Math.Max(1, 30 - clock.Elapsed.TotalSeconds)), () => $"notify-keyspace-events on the nodes 30 s after the change: {string.Join(", ", values)}\n{EventsText()}");

        await using var client = await Scaling.ConnectAsync(group);
        var expired = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        await client.GetSubscriber().SubscribeAsync(RedisChannel.Literal("__keyevent@0__:expired"), (_, key) => expired.TrySetResult(key!));
        await client.GetDatabase().StringSetAsync("short-lived", "v", TimeSpan.FromMilliseconds(200));
        Assert.Equal("short-lived", await expired.Task.WaitAsync(TimeSpan.FromSeconds(10)));

        // A start-up parameter is not applied online: the nodes wait for a reboot, and still run 16 databases.
        await AssertOkAsync(await PatchAsync($"/v1/parameter-groups/{id}-params", new { parameters = new Dictionary<string, string> { ["databases"] = "32" } }));
        group = await WaitForNodesAsync(id, "pending-reboot", TimeSpan.FromSeconds(30));
        Assert.Equal(before, NodeIds(group));
        await using (var direct = await AdminAsync(Nodes(group).First()["endpoint"]!))
            Assert.Equal("16", (string?)(await direct.GetServers()[0].ConfigGetAsync("databases")).Single().Value);
    }

    [Theory]
    [InlineData("redis", "redis7")]
    [InlineData("valkey", "valkey8")]
    public async Task With_noeviction_writes_past_the_memory_limit_answer_oom(string engine, string family)
    {
        var id = $"full-{engine}";
        await PostAsync("/v1/parameter-groups", new { name = $"{id}-params", family });
        await AssertOkAsync(await PatchAsync($"/v1/parameter-groups/{id}-params", new
        {
            parameters = new Dictionary<string, string> { ["maxmemory-policy"] = "noeviction", ["reserved-memory-percent"] = "90" },
        }));
        await AssertAcceptedAsync(await PostAsync("/v1/replication-groups",
            new { id, engine, nodeType = "cache.micro", replicasPerShard = 0, automaticFailover = false, multiAz = false, parameterGroupName = $"{id}-params" }));
        await WaitForStatusAsync($"/v1/replication-groups/{id}", "available");
        var group = await WaitForNodesAsync(id, "in-sync", TimeSpan.FromSeconds(30));

        await using var client = await Scaling.ConnectAsync(group);
        // CONFIG is the control plane's alone: read as its admin user, written to as a client.
        await using (var admin = await AdminAsync(Nodes(group).Single()["endpoint"]!))
        {
            var server = admin.GetServers()[0];
            // reserved-memory-percent 90 of cache.micro's 128 MiB.
            Assert.Equal($"{128L * 1024 * 1024 * 10 / 100}", (string?)(await server.ConfigGetAsync("maxmemory")).Single().Value);
            Assert.Equal("noeviction", (string?)(await server.ConfigGetAsync("maxmemory-policy")).Single().Value);
        }
        var db = client.GetDatabase();
        var value = new string('x', 100_000);
        RedisServerException? refused = null;
        var written = 0;
        for (; written < 1_000 && refused is null; written++)
        {
            try
            {
                await db.StringSetAsync($"big:{written}", value);
            }
            catch (RedisServerException e)
            {
                refused = e;
            }
        }
        Assert.NotNull(refused);
        Assert.StartsWith("OOM", refused.Message);
        Assert.InRange(written, 50, 200); // about 13 MB of 100 kB values
        Assert.Equal(value, (string?)await db.StringGetAsync("big:0")); // nothing was evicted
    }

    [Fact]
    public async Task A_memcached_cluster_whose_group_changes_waits_for_a_reboot()
    {
        await PostAsync("/v1/parameter-groups", new { name = "mc-params", family = "memcached1.6" });
        await AssertAcceptedAsync(await PostAsync("/v1/cache-clusters", new { id = "mc-params", engine = "memcached", numNodes = 2, parameterGroupName = "mc-params" }));
        await WaitForStatusAsync("/v1/cache-clusters/mc-params", "available");
        await AssertOkAsync(await PatchAsync("/v1/parameter-groups/mc-params", new { parameters = new Dictionary<string, string> { ["max_item_size"] = "2097152" } }));
        JsonObject? cluster = null;
        await WaitUntilAsync(async () =>
        {
            cluster = await BodyAsync(await Client.GetAsync("/v1/cache-clusters/mc-params"));
            return cluster["nodes"]!.AsArray().All(n => (string?)n!["parameterGroupStatus"] == "pending-reboot");
        }, TimeSpan.FromSeconds(30), () => $"the nodes never said pending-reboot: {cluster?.ToJsonString()}");
    }

    private async Task<JsonObject> WaitForNodesAsync(string id, string status, TimeSpan timeout)
    {
        JsonObject? group = null;
        await WaitUntilAsync(async () =>
        {
            group = await BodyAsync(await Client.GetAsync($"/v1/replication-groups/{id}"));
            return Nodes(group).All(n => (string?)n["parameterGroupStatus"] == status);
        }, timeout, () => $"the nodes of {id} never all said {status}: {group?.ToJsonString()}");
        return group!;
    }

    private static List<string> NodeIds(JsonObject group) => Nodes(group).Select(n => (string)n["id"]!).Order().ToList();

    private static IEnumerable<JsonNode> Nodes(JsonObject group) =>
        group["shards"]!.AsArray().SelectMany(s => s!["nodes"]!.AsArray()).Select(n => n!);
}
