using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using ControlPlane.Api.Tests.Infrastructure;
using StackExchange.Redis;

namespace ControlPlane.Api.Tests.Monitoring;

/// <summary>/metrics, the time series and the slow log, read from a real group's real nodes.</summary>
public sealed partial class MetricsTests(PostgresFixture postgres) : ReconcilerTest(postgres)
{
    protected override IReadOnlyDictionary<string, string?> ExtraSettings => new Dictionary<string, string?>
    {
        ["ControlPlane:Metrics:Interval"] = "00:00:01",
    };

    [Fact]
    public async Task Every_node_shows_its_cloudwatch_metrics_with_its_labels_and_as_a_time_series()
    {
        await AssertAcceptedAsync(await PostAsync("/v1/replication-groups", new { id = "watched", replicasPerShard = 1 }));
        var group = await WaitForStatusAsync("/v1/replication-groups/watched", "available");
        var nodes = group["shards"]![0]!["nodes"]!.AsArray().Select(n => n!).ToList();
        var primary = nodes.Single(n => (string?)n["role"] == "primary");
        await using (var redis = await ConnectAsync(primary))
        {
            var db = redis.GetDatabase();
            for (var i = 0; i < 25; i++)
                await db.StringSetAsync($"key{i}", "value");
            await db.StringGetAsync("key1");
            await db.StringGetAsync("absent");
        }

        // Both nodes hold the 25 keys (the replica through replication), read by the collector. The rates
        // (CPU, network) need two reads of a node: waited for too, each node on its own clock.
        string[] metrics = ["cpu_utilization", "engine_cpu_utilization", "database_memory_usage_percentage", "curr_connections",
            "new_connections", "evictions", "cache_hits", "cache_misses", "replication_lag_seconds", "network_bytes_in", "network_bytes_out"];
        string text = "";
        await WaitUntilAsync(async () =>
        {
            text = await Client.GetStringAsync("/metrics");
            return nodes.All(n => Value(text, "controlplane_node_curr_items", (string)n["id"]!) == 25
                && metrics.All(name => Value(text, "controlplane_node_" + name, (string)n["id"]!) is not null));
        }, TimeSpan.FromSeconds(30), () => $"the nodes' curr_items never reached 25, or a metric never showed:\n{text}");

        foreach (var node in nodes)
        {
            var id = (string)node["id"]!;
            var labels = Labels(text, "controlplane_node_is_master", id);
            Assert.Equal("default", labels["tenant"]);
            Assert.Equal("watched", labels["group"]);
            Assert.Equal("0001", labels["shard"]);
            Assert.Equal((string)node["availabilityZone"]!, labels["availability_zone"]);
            Assert.Equal("redis", labels["engine"]);
            Assert.Equal((string?)node["role"] == "primary" ? 1 : 0, Value(text, "controlplane_node_is_master", id));
            foreach (var name in metrics)
                Assert.True(Value(text, "controlplane_node_" + name, id) is not null, $"{name} missing for {id}:\n{text}");
            Assert.Equal(1, Value(text, "controlplane_node_up", id));
        }
        Assert.Equal(0, Value(text, "controlplane_node_replication_lag_seconds", (string)nodes.Single(n => (string?)n["role"] == "replica")["id"]!));
        // The control plane's own figures.
        Assert.Matches(@"controlplane_reconcile_pass_duration_seconds_count(\{[^}]*\})? [1-9]", text);
        Assert.Matches(@"http_server_request_duration_seconds_count\{", text);
        Assert.Matches(@"controlplane_zone_reachable\{availability_zone=""az-a""[^}]*\} 1", text);
        Assert.Matches(@"controlplane_resources\{engine=""redis"",status=""available""[^}]*\} 1", text);
        Assert.Matches(@"controlplane_shard_primaries\{group=""watched"",shard=""0001"",tenant=""default""[^}]*\} 1", text);

        // The same values as time series, one point a minute.
        var series = await BodyAsync(await Client.GetAsync("/v1/replication-groups/watched/metrics?name=curr_items&period=60"));
        Assert.Equal(60, (int)series["period"]!);
        var items = series["series"]!.AsArray();
        Assert.Equal(nodes.Select(n => (string)n["id"]!).Order(), items.Select(s => (string)s!["nodeId"]!).Order());
        // A point is the minute's average (CloudWatch's Average for a gauge): the reads before the writes count too.
        Assert.All(items, s =>
        {
            Assert.Equal("curr_items", (string?)s!["name"]);
            Assert.InRange((double)s["points"]!.AsArray()[^1]!["value"]!, 0.5, 25);
        });
        await AssertProblemAsync(await Client.GetAsync("/v1/replication-groups/watched/metrics?name=nonsense"), HttpStatusCode.BadRequest, "InvalidParameterValue", "name");
        await AssertProblemAsync(await Client.GetAsync("/v1/replication-groups/watched/metrics?period=90"), HttpStatusCode.BadRequest, "InvalidParameterValue", "period");
        await AssertProblemAsync(await Client.GetAsync("/v1/replication-groups/nothing/metrics"), HttpStatusCode.NotFound, "ReplicationGroupNotFound");
    }

    [Fact]
    public async Task Metrics_need_a_key_and_show_a_tenant_only_its_own_nodes()
    {
        await AssertAcceptedAsync(await PostAsync("/v1/replication-groups", new { id = "mine", replicasPerShard = 0 }));
        await WaitForStatusAsync("/v1/replication-groups/mine", "available");
        await WaitUntilAsync(async () => (await Client.GetStringAsync("/metrics")).Contains("group=\"mine\"", StringComparison.Ordinal),
            TimeSpan.FromSeconds(30), () => "the group's node never showed in /metrics");

        await AssertProblemAsync(await SendAsync("GET", "/metrics", key: null), HttpStatusCode.Unauthorized, "AuthenticationRequired");
        var stranger = (string)(await NewKeyAsync("viewer", "other"))["key"]!;
        var theirs = await (await SendAsync("GET", "/metrics", stranger)).Content.ReadAsStringAsync();
        Assert.DoesNotContain("group=\"mine\"", theirs);
        Assert.DoesNotContain("controlplane_resources{", theirs);
        var owner = (string)(await NewKeyAsync("viewer", "default"))["key"]!;
        var own = await (await SendAsync("GET", "/metrics", owner)).Content.ReadAsStringAsync();
        Assert.Contains("group=\"mine\"", own);
        await AssertProblemAsync(await SendAsync("GET", "/v1/replication-groups/mine/metrics", stranger), HttpStatusCode.NotFound, "ReplicationGroupNotFound");
    }

    [Fact]
    public async Task The_slow_log_shows_a_nodes_slow_commands_newest_first()
    {
        await AssertAcceptedAsync(await PostAsync("/v1/replication-groups", new { id = "slow", replicasPerShard = 0 }));
        var group = await WaitForStatusAsync("/v1/replication-groups/slow", "available");
        var node = group["shards"]![0]!["nodes"]![0]!;
        // CONFIG is the control plane's alone: the test takes its login for that, and writes as a client.
        await using (var admin = await AdminAsync(node["endpoint"]!))
        await using (var redis = await ConnectAsync(node))
        {
            var server = admin.GetServer(admin.GetEndPoints()[0]);
            await server.ExecuteAsync("CONFIG", "SET", "slowlog-log-slower-than", "0");
            await redis.GetDatabase().StringSetAsync("slow-key", new string('x', 200));
            await server.ExecuteAsync("CONFIG", "SET", "slowlog-log-slower-than", "10000");
        }
        var body = await BodyAsync(await Client.GetAsync($"/v1/replication-groups/slow/slow-log?nodeId={node["id"]}&limit=5"));
        var entries = body["items"]!.AsArray();
        Assert.InRange(entries.Count, 1, 5);
        var set = entries.Single(e => (string?)e!["command"]![0] == "SET")!;
        Assert.Equal((string?)node["id"], (string?)set["nodeId"]);
        Assert.Equal("slow-key", (string?)set["command"]![1]);
        // Redis cuts a long argument at 128 bytes and says how much it left out.
        Assert.StartsWith(new string('x', 128) + "... (72 more bytes)", (string?)set["command"]![2]);
        Assert.True((long)set["durationMicros"]! >= 0);
        Assert.Contains("127.0.0.1:", (string?)set["clientAddress"]);
        await AssertProblemAsync(await Client.GetAsync("/v1/replication-groups/slow/slow-log?limit=500"), HttpStatusCode.BadRequest, "InvalidParameterValue", "limit");
        await AssertProblemAsync(await Client.GetAsync("/v1/replication-groups/slow/slow-log?nodeId=slow-0001-009"), HttpStatusCode.BadRequest, "InvalidParameterValue", "nodeId");
    }

    [Fact]
    public async Task A_memcached_node_shows_its_items_and_hits()
    {
        await AssertAcceptedAsync(await PostAsync("/v1/cache-clusters", new { id = "mc-watched", engine = "memcached", numNodes = 1 }));
        var cluster = await WaitForStatusAsync("/v1/cache-clusters/mc-watched", "available");
        var node = cluster["nodes"]![0]!;
        using (var client = new TcpClient())
        {
            await client.ConnectAsync("127.0.0.1", (int)node["endpoint"]!["port"]!);
            var stream = client.GetStream();
            var reader = new StreamReader(stream, Encoding.ASCII);
            foreach (var command in new[] { "set a 0 0 1\r\nx\r\n", "set b 0 0 1\r\ny\r\n", "get a\r\n" })
            {
                await stream.WriteAsync(Encoding.ASCII.GetBytes(command));
                while (await reader.ReadLineAsync() is { } line && line is not ("STORED" or "END")) { }
            }
        }
        string text = "";
        await WaitUntilAsync(async () =>
        {
            text = await Client.GetStringAsync("/metrics");
            return Value(text, "controlplane_node_curr_items", (string)node["id"]!) == 2;
        }, TimeSpan.FromSeconds(30), () => $"the memcached node's curr_items never reached 2:\n{text}");
        Assert.Equal("memcached", Labels(text, "controlplane_node_curr_items", (string)node["id"]!)["engine"]);
        Assert.True(Value(text, "controlplane_node_database_memory_usage_percentage", (string)node["id"]!) is > 0 and < 100);
        // A stored point is the mean of a minute's reads, and a read from before the sets may share the
        // minute with the one that saw both (a CI run once read 1): the items are there, up to 2.
        var series = await BodyAsync(await Client.GetAsync("/v1/cache-clusters/mc-watched/metrics?name=curr_items"));
        Assert.InRange((double)series["series"]![0]!["points"]!.AsArray()[^1]!["value"]!, 0.1, 2);
    }

    /// <summary>The value of the series of <paramref name="metric"/> whose node label is <paramref name="node"/>, or null.</summary>
    internal static double? Value(string text, string metric, string node)
    {
        var line = text.Split('\n').FirstOrDefault(l => l.StartsWith(metric + "{", StringComparison.Ordinal) && l.Contains($"node=\"{node}\"", StringComparison.Ordinal));
        return line is null ? null : double.Parse(line[(line.LastIndexOf('}') + 2)..].Split(' ')[0], CultureInfo.InvariantCulture);
    }

    private static Dictionary<string, string> Labels(string text, string metric, string node)
    {
        var line = text.Split('\n').First(l => l.StartsWith(metric + "{", StringComparison.Ordinal) && l.Contains($"node=\"{node}\"", StringComparison.Ordinal));
        return LabelPattern().Matches(line[(line.IndexOf('{') + 1)..line.LastIndexOf('}')]).ToDictionary(m => m.Groups[1].Value, m => m.Groups[2].Value);
    }

    [GeneratedRegex("(\\w+)=\"([^\"]*)\"")]
    private static partial Regex LabelPattern();

    private static Task<ConnectionMultiplexer> ConnectAsync(JsonNode node) =>
        ConnectionMultiplexer.ConnectAsync(new ConfigurationOptions
        {
            EndPoints = { { "127.0.0.1", (int)node["endpoint"]!["port"]! } },
            AllowAdmin = true,
        });
}
