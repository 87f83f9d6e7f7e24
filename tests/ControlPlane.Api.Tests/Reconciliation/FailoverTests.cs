using System.Diagnostics;
using System.Net;
using System.Text.Json.Nodes;
using ControlPlane.Api.Tests.Infrastructure;
using Docker.DotNet.Models;
using StackExchange.Redis;

namespace ControlPlane.Api.Tests.Reconciliation;

/// <summary>
/// Real failures on real engines: every test waits for the group to come back to full strength
/// and checks that no write acknowledged by a replica (WAIT 1) was lost.
/// </summary>
public sealed class FailoverTests(PostgresFixture postgres) : ReconcilerTest(postgres)
{
    protected override IReadOnlyDictionary<string, string?> ExtraSettings => new Dictionary<string, string?>
    {
        ["ControlPlane:Reconciler:ZoneGrace"] = "00:00:03",
    };

    [Fact]
    public async Task Killing_the_primary_promotes_the_best_replica_and_loses_no_acknowledged_write()
    {
        var group = await CreateAsync("kill-primary", new { id = "kill-primary", replicasPerShard = 2 });
        var primary = PrimaryOf(group, "0001");
        await using var writer = await AcknowledgedWriter.StartAsync(() => PrimaryEndpointAsync("kill-primary"));
        await writer.WaitForAsync(50);

        await KillAsync(primary);
        var healed = await WaitForFullStrengthAsync("kill-primary", 3, gone: (string)primary["id"]!);
        await writer.WaitForAsync(writer.Acknowledged.Count + 50); // writes flow again through the new primary

        var acknowledged = await writer.StopAsync();
        await AssertAllPresentAsync(PrimaryOf(healed, "0001"), acknowledged);
        // The endpoints forward to the new primary and the replicas now, and to nothing else.
        var forwarding = (await KernelTableAsync()).Groups["kill-primary"];
        var nodes = healed["shards"]![0]!["nodes"]!.AsArray();
        Assert.Equal([Endpoint(PrimaryOf(healed, "0001")["endpoint"]!).ToString()],
            forwarding.Ports.Single(p => p.Port == (int)healed["primaryEndpoint"]!["port"]!).Targets.Select(t => t.ToString()));
        Assert.Equal(nodes.Where(n => (string?)n!["role"] == "replica").Select(n => Endpoint(n!["endpoint"]!).ToString()).Order(),
            forwarding.Ports.Single(p => p.Port == (int)healed["readerEndpoint"]!["port"]!).Targets.Select(t => t.ToString()).Order());
        var events = await MessagesAsync("kill-primary");
        Assert.Contains(events, e => e.StartsWith($"Failover from primary node {primary["id"]} to replica node kill-primary-0001-", StringComparison.Ordinal));
        Assert.Contains($"Recovering cache nodes {primary["id"]}", events);
        Assert.Contains(events, e => e.StartsWith("Finished recovery for cache nodes kill-primary-0001-004", StringComparison.Ordinal));
        // The replacement was placed in the failed node's zone.
        Assert.Contains(healed["shards"]![0]!["nodes"]!.AsArray(), n => (string?)n!["id"] == "kill-primary-0001-004" && (string?)n["availabilityZone"] == (string?)primary["availabilityZone"]);
    }

    [Fact]
    public async Task Killing_a_replica_replaces_it_while_the_group_stays_available()
    {
        var group = await CreateAsync("kill-replica", new { id = "kill-replica", replicasPerShard = 1 });
        var replica = group["shards"]![0]!["nodes"]!.AsArray().Single(n => (string?)n!["role"] == "replica")!;
        var primary = PrimaryOf(group, "0001");
        await using (var direct = await ConnectAsync(primary))
            await direct.GetDatabase().StringSetAsync("kept", "yes");
        await KillAsync(replica);
        var statuses = new List<string>();
        var healed = await WaitForFullStrengthAsync("kill-replica", 2, gone: (string)replica["id"]!, statuses);
        Assert.All(statuses, s => Assert.Equal("available", s));
        Assert.Equal((string?)primary["id"], (string?)PrimaryOf(healed, "0001")["id"]);
        var newReplica = healed["shards"]![0]!["nodes"]!.AsArray().Single(n => (string?)n!["role"] == "replica")!;
        await using var reader = await ConnectAsync(newReplica);
        await WaitUntilAsync(async () => await reader.GetDatabase().StringGetAsync("kept", CommandFlags.PreferReplica) == "yes",
            TimeSpan.FromSeconds(10), () => "the replacement replica never got the data");
    }

    [Fact]
    public async Task Killing_a_cluster_shard_primary_takes_over_its_slots_and_forgets_it()
    {
        var group = await CreateAsync("cme-fail", new { id = "cme-fail", clusterMode = "enabled", numShards = 3, replicasPerShard = 1 });
        var primary = PrimaryOf(group, "0002");
        await using var writer = await AcknowledgedWriter.StartAsync(() => Task.FromResult(Endpoint(group["configurationEndpoint"]!)), cluster: true);
        await writer.WaitForAsync(100);
        await KillAsync(primary);
        var healed = await WaitForFullStrengthAsync("cme-fail", 6, gone: (string)primary["id"]!);
        await writer.WaitForAsync(writer.Acknowledged.Count + 50);
        var acknowledged = await writer.StopAsync();

        var nodes = healed["shards"]!.AsArray().SelectMany(s => s!["nodes"]!.AsArray()).ToList();
        foreach (var node in nodes)
        {
            await using var direct = await ConnectAsync(node!);
            var server = direct.GetServers()[0];
            await WaitUntilAsync(async () => ((string?)await server.ExecuteAsync("CLUSTER", "INFO"))!.Contains("cluster_state:ok")
                    && ((string?)await server.ExecuteAsync("CLUSTER", "NODES"))!.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length == 6,
                TimeSpan.FromSeconds(20), () => $"{node!["id"]} does not see a healthy six-node cluster");
        }
        await using var cluster = await ConnectionMultiplexer.ConnectAsync(new ConfigurationOptions { EndPoints = { Endpoint(healed["configurationEndpoint"]!) } });
        var missing = new List<string>();
        foreach (var key in acknowledged)
            if (!(await cluster.GetDatabase().KeyExistsAsync(key)))
                missing.Add(key);
        Assert.Empty(missing);
    }

    [Fact]
    public async Task A_shard_without_replica_gets_a_fresh_primary_with_its_slots_and_says_the_data_is_lost()
    {
        var group = await CreateAsync("lonely", new { id = "lonely", clusterMode = "enabled", numShards = 2, replicasPerShard = 0 });
        var primary = PrimaryOf(group, "0001");
        await KillAsync(primary);
        var healed = await WaitForFullStrengthAsync("lonely", 2, gone: (string)primary["id"]!);
        await using var cluster = await ConnectionMultiplexer.ConnectAsync(new ConfigurationOptions { EndPoints = { Endpoint(healed["configurationEndpoint"]!) } });
        await WaitUntilAsync(async () =>
        {
            try
            {
                foreach (var i in Enumerable.Range(0, 50))
                    await cluster.GetDatabase().StringSetAsync($"again:{i}", i);
                return true;
            }
            catch (RedisException)
            {
                return false;
            }
        }, TimeSpan.FromSeconds(20), () => "the cluster does not serve every slot again");
        Assert.Contains(await MessagesAsync("lonely"), e => e.Contains("data it held is lost", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Two_failures_in_a_row_are_both_healed()
    {
        var group = await CreateAsync("twice", new { id = "twice", replicasPerShard = 2 });
        await using var writer = await AcknowledgedWriter.StartAsync(() => PrimaryEndpointAsync("twice"));
        await writer.WaitForAsync(30);
        var first = PrimaryOf(group, "0001");
        await KillAsync(first);
        group = await WaitForFullStrengthAsync("twice", 3, gone: (string)first["id"]!);
        var second = PrimaryOf(group, "0001");
        await writer.WaitForAsync(writer.Acknowledged.Count + 30);
        await KillAsync(second);
        group = await WaitForFullStrengthAsync("twice", 3, gone: (string)second["id"]!);
        await writer.WaitForAsync(writer.Acknowledged.Count + 30);
        await AssertAllPresentAsync(PrimaryOf(group, "0001"), await writer.StopAsync());
    }

    [Theory]
    [InlineData("restarted", "disabled")]
    [InlineData("restarted-cme", "enabled")]
    public async Task A_primary_restarted_by_hand_wipes_nothing_and_is_replaced(string id, string clusterMode)
    {
        var group = await CreateAsync(id, new { id, clusterMode, replicasPerShard = 1 });
        var primary = PrimaryOf(group, "0001");
        await using (var direct = await ConnectAsync(primary))
        {
            var db = direct.GetDatabase();
            foreach (var i in Enumerable.Range(0, 200))
                await db.StringSetAsync($"precious:{i}", i);
            await db.ExecuteAsync("WAIT", 1, 2000);
        }
        using (var docker = Docker(Engines[(string)primary["availabilityZone"]!]))
        {
            var name = $"{Instance}-{primary["id"]}";
            try
            {
                await docker.Containers.RestartContainerAsync(name, new ContainerRestartParameters { WaitBeforeKillSeconds = 0 });
            }
            catch (Docker.DotNet.DockerApiException e) when (e.StatusCode is HttpStatusCode.NotFound or HttpStatusCode.Conflict
                || (e.StatusCode == HttpStatusCode.InternalServerError && e.ResponseBody?.Contains("marked for removal", StringComparison.Ordinal) == true))
            {
                // The control plane fenced the stopped node before Docker could start it again (or while it tried).
            }
            // The second start of a node's container refuses to serve: it never comes back empty in place.
            await WaitUntilAsync(async () =>
            {
                try
                {
                    var state = (await docker.Containers.InspectContainerAsync(name)).State;
                    return state is { Running: false, ExitCode: 75 };
                }
                catch (Docker.DotNet.DockerContainerNotFoundException)
                {
                    return true;
                }
            }, TimeSpan.FromSeconds(10), () => "the restarted primary's container kept running");
        }
        var healed = await WaitForFullStrengthAsync(id, 2, gone: (string)primary["id"]!);
        await AssertAllPresentAsync(PrimaryOf(healed, "0001"), Enumerable.Range(0, 200).Select(i => $"precious:{i}").ToList());
    }

    [Fact]
    public async Task A_whole_zone_going_down_fails_over_and_replaces_its_nodes_elsewhere()
    {
        // Three zones, primary in az-a: stopping az-a's engine kills its containers and makes it unreachable.
        var group = await CreateAsync("zonal", new { id = "zonal", replicasPerShard = 2, multiAz = true });
        var primary = PrimaryOf(group, "0001");
        Assert.Equal("az-a", (string?)primary["availabilityZone"]);
        await using var writer = await AcknowledgedWriter.StartAsync(() => PrimaryEndpointAsync("zonal"));
        await writer.WaitForAsync(30);
        await ZoneEngine.StopAsync("az-a");
        try
        {
            await WaitUntilAsync(async () => (await Client.GetStringAsync("/v1/availability-zones")).Contains("\"az-a\",\"status\":\"unreachable\""),
                TimeSpan.FromSeconds(15), () => "az-a was never reported unreachable");
            var healed = await WaitForFullStrengthAsync("zonal", 3, gone: (string)primary["id"]!, timeout: TimeSpan.FromSeconds(60));
            Assert.DoesNotContain(healed["shards"]![0]!["nodes"]!.AsArray(), n => (string?)n!["availabilityZone"] == "az-a");
            await writer.WaitForAsync(writer.Acknowledged.Count + 30);
            await AssertAllPresentAsync(PrimaryOf(healed, "0001"), await writer.StopAsync());
        }
        finally
        {
            await ZoneEngine.StartAsync("az-a");
        }
    }

    [Fact]
    public async Task Test_failover_is_handled_like_a_real_failure()
    {
        var group = await CreateAsync("drill", new { id = "drill", replicasPerShard = 1 });
        var primary = PrimaryOf(group, "0001");
        await AssertAcceptedAsync(await PostAsync("/v1/replication-groups/drill/test-failover", new { shardId = "0001" }));
        var healed = await WaitForFullStrengthAsync("drill", 2, gone: (string)primary["id"]!);
        Assert.NotEqual((string?)primary["id"], (string?)PrimaryOf(healed, "0001")["id"]);
        var events = await MessagesAsync("drill");
        Assert.Contains("Test Failover API called for node group 0001", events);
        Assert.Contains(events, e => e.StartsWith($"Failover from primary node {primary["id"]} to replica node drill-0001-002 completed", StringComparison.Ordinal));
        Assert.Contains($"Recovering cache nodes {primary["id"]}", events);
        Assert.Contains(events, e => e.StartsWith("Finished recovery for cache nodes drill-0001-003", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Killing_a_memcached_node_replaces_it_in_its_zone()
    {
        await AssertAcceptedAsync(await PostAsync("/v1/cache-clusters", new { id = "mcf", engine = "memcached", numNodes = 3, azMode = "cross-az" }));
        var cluster = await WaitForStatusAsync("/v1/cache-clusters/mcf", "available");
        var victim = cluster["nodes"]![1]!;
        await KillAsync(victim);
        await WaitUntilAsync(async () =>
        {
            var now = await BodyAsync(await Client.GetAsync("/v1/cache-clusters/mcf"));
            var nodes = now["nodes"]!.AsArray();
            return (string?)now["status"] == "available" && nodes.Count == 3 && nodes.All(n => (string?)n!["status"] == "available" && (string?)n["id"] != (string?)victim["id"]);
        }, TimeSpan.FromSeconds(30), () => $"the memcached node was never replaced: {EventsText()}");
        var healed = await BodyAsync(await Client.GetAsync("/v1/cache-clusters/mcf"));
        Assert.Contains(healed["nodes"]!.AsArray(), n => (string?)n!["id"] == "mcf-0004" && (string?)n["availabilityZone"] == (string?)victim["availabilityZone"]);
    }

    private async Task<JsonObject> CreateAsync(string id, object body)
    {
        await AssertAcceptedAsync(await PostAsync("/v1/replication-groups", body));
        return await WaitForStatusAsync($"/v1/replication-groups/{id}", "available");
    }

    private async Task<JsonObject> WaitForFullStrengthAsync(string id, int nodes, string gone, List<string>? statuses = null, TimeSpan? timeout = null)
    {
        JsonObject? last = null;
        await WaitUntilAsync(async () =>
        {
            last = await BodyAsync(await Client.GetAsync($"/v1/replication-groups/{id}"));
            statuses?.Add((string)last["status"]!);
            var all = last["shards"]!.AsArray().SelectMany(s => s!["nodes"]!.AsArray()).ToList();
            return (string?)last["status"] == "available" && all.Count == nodes
                && all.All(n => (string?)n!["status"] == "available" && (string?)n["id"] != gone);
        }, timeout ?? TimeSpan.FromSeconds(45), () => $"{id} never came back to {nodes} available nodes: {last?.ToJsonString()}\n{EventsText()}");
        return last!;
    }

    private static JsonNode PrimaryOf(JsonObject group, string shard) =>
        group["shards"]!.AsArray().Single(s => (string?)s!["id"] == shard)!["nodes"]!.AsArray().Single(n => (string?)n!["role"] == "primary")!;

    private async Task<EndPoint> PrimaryEndpointAsync(string id)
    {
        var group = await BodyAsync(await Client.GetAsync($"/v1/replication-groups/{id}"));
        return Endpoint(group["primaryEndpoint"] ?? throw new InvalidOperationException("no primary endpoint"));
    }

    private async Task KillAsync(JsonNode node)
    {
        using var docker = Docker(Engines[(string)node["availabilityZone"]!]);
        await docker.Containers.KillContainerAsync($"{Instance}-{node["id"]}", new ContainerKillParameters { Signal = "SIGKILL" });
    }

    private async Task<List<string>> MessagesAsync(string id) =>
        (await BodyAsync(await Client.GetAsync($"/v1/events?sourceId={id}")))["items"]!.AsArray().Select(e => (string)e!["message"]!).ToList();

    private static Task<ConnectionMultiplexer> ConnectAsync(JsonNode node) =>
        ConnectionMultiplexer.ConnectAsync(new ConfigurationOptions { EndPoints = { Endpoint(node["endpoint"]!) }, AllowAdmin = true });

    private static async Task AssertAllPresentAsync(JsonNode primary, IReadOnlyList<string> keys)
    {
        await using var direct = await ConnectAsync(primary);
        var db = direct.GetDatabase();
        var missing = new List<string>();
        foreach (var key in keys)
            if (!await db.KeyExistsAsync(key))
                missing.Add(key);
        Assert.True(missing.Count == 0, $"{missing.Count} of {keys.Count} acknowledged writes are missing, e.g. {string.Join(", ", missing.Take(5))}");
    }

    private static EndPoint Endpoint(JsonNode endpoint) => RedisCreateTests.Endpoint(endpoint);
}

/// <summary>Stops and starts a zone's Docker engine through deploy/lib/common.sh, as deploy/test.sh started it.</summary>
public static class ZoneEngine
{
    public static Task StopAsync(string zone) => RunAsync("cp_stop_engine", zone);

    public static Task StartAsync(string zone) => RunAsync("cp_start_engine", zone);

    private static async Task RunAsync(string function, string zone)
    {
        var lib = Environment.GetEnvironmentVariable("CONTROLPLANE_DEPLOY_LIB") ?? throw new InvalidOperationException("CONTROLPLANE_DEPLOY_LIB is not set; run ./deploy/test.sh");
        var state = Environment.GetEnvironmentVariable("CONTROLPLANE_TEST_STATE_DIR") ?? throw new InvalidOperationException("CONTROLPLANE_TEST_STATE_DIR is not set; run ./deploy/test.sh");
        var info = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in new[] { "-c", $"source \"$0\" && {function} \"$1\" \"$2\" >/dev/null", lib, zone, state })
            info.ArgumentList.Add(arg);
        using var process = Process.Start(info)!;
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        Assert.True(process.ExitCode == 0, $"{function} {zone} failed: {await stderr}");
    }
}
