using System.Net;
using System.Text.Json.Nodes;
using ControlPlane.Api.Tests.Infrastructure;

namespace ControlPlane.Api.Tests.Reconciliation;

/// <summary>Reboots on real engines: rolling, one shard at a time, with no acknowledged write lost.</summary>
public sealed class RebootTests(PostgresFixture postgres) : ReconcilerTest(postgres)
{
    [Fact]
    public async Task Rebooting_every_node_of_a_three_shard_group_under_a_writer_loses_no_acknowledged_write()
    {
        await AssertAcceptedAsync(await PostAsync("/v1/replication-groups", new { id = "rolling", clusterMode = "enabled", numShards = 3, replicasPerShard = 1 }));
        var group = await WaitForStatusAsync("/v1/replication-groups/rolling", "available");
        var original = Nodes(group).Select(n => (string)n["id"]!).ToList();
        await using var writer = await AcknowledgedWriter.StartAsync(() => Task.FromResult(RedisCreateTests.Endpoint(group["configurationEndpoint"]!)), cluster: true);
        await writer.WaitForAsync(50);

        var ports = Nodes(group).ToDictionary(n => (string)n["id"]!, n => (int)n["endpoint"]!["port"]!);
        var startedAt = await StartTimesAsync(Nodes(group));

        var accepted = await AssertAcceptedAsync(await PostAsync("/v1/replication-groups/rolling/reboot", new { nodeIds = original }));
        Assert.Equal("modifying", (string?)accepted["status"]);
        var busiest = 0;
        JsonObject? now = null;
        await WaitUntilAsync(async () =>
        {
            now = await BodyAsync(await Client.GetAsync("/v1/replication-groups/rolling"));
            // Shards being rebooted: those with a node rebooted while another of theirs still waits. Never two at once.
            var left = now["pendingChanges"]?["rebootNodes"]?.AsArray().Select(n => (string)n!).ToHashSet() ?? [];
            var underway = now["shards"]!.AsArray().Count(s =>
            {
                var ids = s!["nodes"]!.AsArray().Select(n => (string)n!["id"]!).ToList();
                return ids.Any(left.Contains) && ids.Any(i => !left.Contains(i));
            });
            busiest = Math.Max(busiest, underway);
            return (string?)now["status"] == "available";
        }, TimeSpan.FromMinutes(4), () => $"the reboot never finished: {now?.ToJsonString()}\n{EventsText()}");
        Assert.Equal(1, busiest);
        // Every node is the node it was: the same id at the same port, its engine started again.
        Assert.Equal(ports, Nodes(now!).ToDictionary(n => (string)n["id"]!, n => (int)n["endpoint"]!["port"]!));
        var restartedAt = await StartTimesAsync(Nodes(now!));
        Assert.All(original, id => Assert.True(restartedAt[id] > startedAt[id], $"{id} was not restarted"));
        Assert.Null(now!["pendingChanges"]);
        await writer.WaitForAsync(writer.Acknowledged.Count + 50);
        var acknowledged = await writer.StopAsync();

        await using (var client = await Scaling.ConnectAsync(now))
            await AcknowledgedWriter.AssertKeptAsync(client, acknowledged);
        await Scaling.AssertNoSlotOpenAsync(now);
    }

    [Fact]
    public async Task A_reboot_applies_pending_start_up_parameters()
    {
        await PostAsync("/v1/parameter-groups", new { name = "more-dbs", family = "valkey8" });
        await AssertAcceptedAsync(await PostAsync("/v1/replication-groups", new { id = "dbs", engine = "valkey", replicasPerShard = 1, parameterGroupName = "more-dbs" }));
        var group = await WaitForStatusAsync("/v1/replication-groups/dbs", "available");
        Assert.True((await PatchAsync("/v1/parameter-groups/more-dbs", new { parameters = new Dictionary<string, string> { ["databases"] = "32" } })).IsSuccessStatusCode);
        await WaitUntilAsync(async () => Nodes(await BodyAsync(await Client.GetAsync("/v1/replication-groups/dbs"))).All(n => (string?)n["parameterGroupStatus"] == "pending-reboot"),
            TimeSpan.FromSeconds(30), () => "never pending-reboot");
        await using (var before = await Scaling.ConnectAsync(group))
            await before.GetDatabase().StringSetAsync("kept", "yes");

        var ports = Nodes(group).ToDictionary(n => (string)n["id"]!, n => (int)n["endpoint"]!["port"]!);
        await AssertAcceptedAsync(await PostAsync("/v1/replication-groups/dbs/reboot", new { nodeIds = ports.Keys.ToArray() }));
        JsonObject? now = null;
        await WaitUntilAsync(async () =>
        {
            now = await BodyAsync(await Client.GetAsync("/v1/replication-groups/dbs"));
            return (string?)now["status"] == "available" && Nodes(now).All(n => (string?)n["parameterGroupStatus"] == "in-sync");
        }, TimeSpan.FromMinutes(2), () => $"never rebooted into sync: {now?.ToJsonString()}\n{EventsText()}");
        Assert.Equal(ports, Nodes(now!).ToDictionary(n => (string)n["id"]!, n => (int)n["endpoint"]!["port"]!));
        foreach (var node in Nodes(now!))
        {
            await using var direct = await AdminAsync(node["endpoint"]!);
            Assert.Equal("32", (string?)(await direct.GetServers()[0].ConfigGetAsync("databases")).Single().Value);
        }
        await using var client = await Scaling.ConnectAsync(now!);
        Assert.Equal("yes", (string?)await client.GetDatabase().StringGetAsync("kept"));
    }

    [Fact]
    public async Task A_cluster_mode_reboot_into_new_containers_keeps_each_node_its_cluster_identity_slots_and_data()
    {
        await PostAsync("/v1/parameter-groups", new { name = "cluster-dbs", family = "redis7" });
        Assert.True((await PatchAsync("/v1/parameter-groups/cluster-dbs", new { parameters = new Dictionary<string, string> { ["cluster-enabled"] = "yes" } })).IsSuccessStatusCode);
        await AssertAcceptedAsync(await PostAsync("/v1/replication-groups",
            new { id = "cdbs", clusterMode = "enabled", numShards = 2, replicasPerShard = 1, parameterGroupName = "cluster-dbs" }));
        var group = await WaitForStatusAsync("/v1/replication-groups/cdbs", "available");
        List<string> keys;
        await using (var client = await Scaling.ConnectAsync(group))
            keys = await Scaling.LoadAsync(client, 5_000, "c");
        var identities = await ClusterIdsAsync(group);

        // A start-up option: only a new container can take it.
        Assert.True((await PatchAsync("/v1/parameter-groups/cluster-dbs", new { parameters = new Dictionary<string, string> { ["databases"] = "32" } })).IsSuccessStatusCode);
        await WaitUntilAsync(async () => Nodes(await BodyAsync(await Client.GetAsync("/v1/replication-groups/cdbs"))).All(n => (string?)n["parameterGroupStatus"] == "pending-reboot"),
            TimeSpan.FromSeconds(30), () => "never pending-reboot");
        var ports = Nodes(group).ToDictionary(n => (string)n["id"]!, n => (int)n["endpoint"]!["port"]!);
        await AssertAcceptedAsync(await PostAsync("/v1/replication-groups/cdbs/reboot", new { nodeIds = ports.Keys.ToArray() }));
        JsonObject? now = null;
        await WaitUntilAsync(async () =>
        {
            now = await BodyAsync(await Client.GetAsync("/v1/replication-groups/cdbs"));
            return (string?)now["status"] == "available" && Nodes(now).All(n => (string?)n["parameterGroupStatus"] == "in-sync");
        }, TimeSpan.FromMinutes(3), () => $"never rebooted into sync: {now?.ToJsonString()}\n{EventsText()}");

        Assert.Equal(ports, Nodes(now!).ToDictionary(n => (string)n["id"]!, n => (int)n["endpoint"]!["port"]!));
        // The same cluster node ids, and no stranger in anyone's view: each new container took its node's cluster config.
        Assert.Equal(identities, await ClusterIdsAsync(now!));
        foreach (var node in Nodes(now!))
        {
            await using var direct = await AdminAsync(node["endpoint"]!);
            var server = direct.GetServers()[0];
            Assert.Equal("32", (string?)(await server.ConfigGetAsync("databases")).Single().Value);
            var info = (string?)await server.ExecuteAsync("CLUSTER", "INFO") ?? "";
            Assert.Contains("cluster_known_nodes:4", info, StringComparison.Ordinal);
            Assert.Contains("cluster_state:ok", info, StringComparison.Ordinal);
        }
        await using (var client = await Scaling.ConnectAsync(now!))
            await Scaling.AssertAllPresentAsync(client, keys);
        await Scaling.AssertNoSlotOpenAsync(now!);
    }

    [Fact]
    public async Task A_primary_without_replica_rebooted_into_a_new_container_keeps_its_data()
    {
        await PostAsync("/v1/parameter-groups", new { name = "lone-dbs", family = "redis7" });
        await AssertAcceptedAsync(await PostAsync("/v1/replication-groups", new { id = "lone", replicasPerShard = 0, parameterGroupName = "lone-dbs" }));
        var group = await WaitForStatusAsync("/v1/replication-groups/lone", "available");
        List<string> keys;
        await using (var client = await Scaling.ConnectAsync(group))
            keys = await Scaling.LoadAsync(client, 5_000, "lone");
        Assert.True((await PatchAsync("/v1/parameter-groups/lone-dbs", new { parameters = new Dictionary<string, string> { ["databases"] = "32" } })).IsSuccessStatusCode);
        await WaitUntilAsync(async () => Nodes(await BodyAsync(await Client.GetAsync("/v1/replication-groups/lone"))).All(n => (string?)n["parameterGroupStatus"] == "pending-reboot"),
            TimeSpan.FromSeconds(30), () => "never pending-reboot");
        var node = Nodes(group).Single();
        var startedAt = await StartTimesAsync([node]);

        await AssertAcceptedAsync(await PostAsync("/v1/replication-groups/lone/reboot", new { nodeIds = new[] { (string)node["id"]! } }));
        JsonObject? now = null;
        await WaitUntilAsync(async () =>
        {
            now = await BodyAsync(await Client.GetAsync("/v1/replication-groups/lone"));
            return (string?)now["status"] == "available" && Nodes(now).All(n => (string?)n["parameterGroupStatus"] == "in-sync");
        }, TimeSpan.FromMinutes(2), () => $"never rebooted into sync: {now?.ToJsonString()}\n{EventsText()}");
        var after = Nodes(now!).Single();
        Assert.Equal(((string?)node["id"], (int)node["endpoint"]!["port"]!), ((string?)after["id"], (int)after["endpoint"]!["port"]!));
        Assert.True((await StartTimesAsync([after]))[(string)after["id"]!] > startedAt[(string)node["id"]!], "the node was not restarted");
        await using (var direct = await AdminAsync(after["endpoint"]!))
            Assert.Equal("32", (string?)(await direct.GetServers()[0].ConfigGetAsync("databases")).Single().Value);
        // Saved before the old container went, loaded by the new one.
        await using (var client = await Scaling.ConnectAsync(now!))
            await Scaling.AssertAllPresentAsync(client, keys);
    }

    private async Task<Dictionary<string, string>> ClusterIdsAsync(JsonObject group)
    {
        var ids = new Dictionary<string, string>();
        foreach (var node in Nodes(group))
        {
            await using var direct = await AdminAsync(node["endpoint"]!);
            ids[(string)node["id"]!] = (string?)await direct.GetServers()[0].ExecuteAsync("CLUSTER", "MYID") ?? "";
        }
        return ids;
    }

    [Fact]
    public async Task Groups_without_cluster_mode_reboot_in_place_and_a_primary_without_replica_keeps_its_data()
    {
        await AssertAcceptedAsync(await PostAsync("/v1/replication-groups", new { id = "inplace", replicasPerShard = 1 }));
        await AssertAcceptedAsync(await PostAsync("/v1/replication-groups", new { id = "alone", replicasPerShard = 0 }));
        var groups = new[] { await WaitForStatusAsync("/v1/replication-groups/inplace", "available"), await WaitForStatusAsync("/v1/replication-groups/alone", "available") };
        foreach (var group in groups)
            await using (var client = await Scaling.ConnectAsync(group))
                await client.GetDatabase().StringSetAsync("kept", (string)group["id"]!);
        var ports = groups.SelectMany(Nodes).ToDictionary(n => (string)n["id"]!, n => (int)n["endpoint"]!["port"]!);
        var startedAt = await StartTimesAsync(groups.SelectMany(Nodes));

        foreach (var group in groups)
            await AssertAcceptedAsync(await PostAsync($"/v1/replication-groups/{group["id"]}/reboot", new { nodeIds = Nodes(group).Select(n => (string)n["id"]!).ToArray() }));
        var now = new JsonObject[2];
        await WaitUntilAsync(async () =>
        {
            for (var i = 0; i < 2; i++)
                now[i] = await BodyAsync(await Client.GetAsync($"/v1/replication-groups/{groups[i]["id"]}"));
            return now.All(g => (string?)g["status"] == "available");
        }, TimeSpan.FromMinutes(2), () => $"never rebooted: {now[0]?.ToJsonString()} {now[1]?.ToJsonString()}\n{EventsText()}");

        Assert.Equal(ports, now.SelectMany(Nodes).ToDictionary(n => (string)n["id"]!, n => (int)n["endpoint"]!["port"]!));
        var restartedAt = await StartTimesAsync(now.SelectMany(Nodes));
        Assert.All(ports.Keys, id => Assert.True(restartedAt[id] > startedAt[id], $"{id} was not restarted"));
        foreach (var group in now)
        {
            await using var client = await Scaling.ConnectAsync(group);
            Assert.Equal((string)group["id"]!, (string?)await client.GetDatabase().StringGetAsync("kept"));
            // Every replica follows its primary again, with the data.
            foreach (var replica in Nodes(group).Where(n => (string?)n["role"] == "replica"))
            {
                await using var direct = await AdminAsync(replica["endpoint"]!);
                var info = await direct.GetServers()[0].InfoAsync("replication");
                Assert.Equal("slave", info.SelectMany(g => g).First(p => p.Key == "role").Value);
                Assert.Equal((string)group["id"]!, (string?)await direct.GetDatabase().StringGetAsync("kept", StackExchange.Redis.CommandFlags.DemandReplica));
            }
        }
    }

    [Fact]
    public async Task A_memcached_node_is_rebooted_in_place_and_bad_requests_change_nothing()
    {
        await AssertAcceptedAsync(await PostAsync("/v1/cache-clusters", new { id = "mcr", engine = "memcached", numNodes = 2, azMode = "cross-az" }));
        var cluster = await WaitForStatusAsync("/v1/cache-clusters/mcr", "available");
        var victim = cluster["nodes"]![0]!;
        var other = cluster["nodes"]![1]!;

        await AssertProblemAsync(await PostAsync("/v1/cache-clusters/mcr/reboot", new { nodeIds = new[] { "mcr-0009" } }), HttpStatusCode.BadRequest, "InvalidParameterValue", "nodeIds");
        await AssertProblemAsync(await PostAsync("/v1/cache-clusters/mcr/reboot", new { nodeIds = Array.Empty<string>() }), HttpStatusCode.BadRequest, "InvalidParameterValue", "nodeIds");
        await AssertProblemAsync(await PostAsync("/v1/replication-groups/none/reboot", new { nodeIds = new[] { "x" } }), HttpStatusCode.NotFound, "ReplicationGroupNotFound");
        Assert.Equal("available", (string?)(await BodyAsync(await Client.GetAsync("/v1/cache-clusters/mcr")))["status"]);

        Assert.Equal("STORED\r\n", await MemcachedScalingTests.MemcachedAsync((int)victim["endpoint"]!["port"]!, "set k 0 0 1\r\nv\r\n"));
        var startedAt = await StartTimesAsync([victim, other]);
        await AssertAcceptedAsync(await PostAsync("/v1/cache-clusters/mcr/reboot", new { nodeIds = new[] { (string)victim["id"]! } }));
        await AssertProblemAsync(await PostAsync("/v1/cache-clusters/mcr/reboot", new { nodeIds = new[] { (string)other["id"]! } }),
            HttpStatusCode.Conflict, "InvalidCacheClusterState");
        JsonObject? now = null;
        await WaitUntilAsync(async () =>
        {
            now = await BodyAsync(await Client.GetAsync("/v1/cache-clusters/mcr"));
            return (string?)now["status"] == "available" && now["nodes"]!.AsArray().All(n => (string?)n!["status"] == "available");
        }, TimeSpan.FromSeconds(60), () => $"never rebooted: {now?.ToJsonString()}");
        // The same two nodes at the same ports; the one rebooted came back empty, the other was left alone.
        Assert.Equal(cluster["nodes"]!.AsArray().Select(n => $"{n!["id"]}:{n["endpoint"]!["port"]}"), now!["nodes"]!.AsArray().Select(n => $"{n!["id"]}:{n["endpoint"]!["port"]}"));
        var restartedAt = await StartTimesAsync([victim, other]);
        Assert.True(restartedAt[(string)victim["id"]!] > startedAt[(string)victim["id"]!]);
        Assert.Equal(startedAt[(string)other["id"]!], restartedAt[(string)other["id"]!]);
        Assert.Equal("END\r\n", await MemcachedScalingTests.MemcachedAsync((int)victim["endpoint"]!["port"]!, "get k\r\n"));
    }

    [Fact]
    public async Task Memcached_nodes_left_by_an_older_configuration_are_rebooted_in_place_after_an_upgrade()
    {
        await AssertAcceptedAsync(await PostAsync("/v1/cache-clusters", new { id = "mcu", engine = "memcached", numNodes = 2 }));
        var cluster = await WaitForStatusAsync("/v1/cache-clusters/mcu", "available");

        // The control plane restarts with another node configuration (cache.small gets more CPU): the running nodes are outdated.
        await Factory.DisposeAsync();
        var upgraded = Settings.ToDictionary();
        upgraded["ControlPlane:NodeTypes:1:Name"] = "cache.small";
        upgraded["ControlPlane:NodeTypes:1:MemoryMiB"] = "512";
        upgraded["ControlPlane:NodeTypes:1:Cpus"] = "0.6";
        Factory = new ApiFactory(ConnectionString, upgraded, fakeClock: false);
        Client = Factory.CreateClient();

        await WaitUntilAsync(() => Task.FromResult(EventsText().Contains("Rebooting cache nodes mcu-0001, mcu-0002: they run an outdated configuration", StringComparison.Ordinal)),
            TimeSpan.FromSeconds(30), () => $"the outdated nodes were never noticed: {EventsText()}");
        var now = await WaitForStatusAsync("/v1/cache-clusters/mcu", "available", TimeSpan.FromMinutes(1));
        Assert.Equal(cluster["nodes"]!.AsArray().Select(n => $"{n!["id"]}:{n["endpoint"]!["port"]}"), now["nodes"]!.AsArray().Select(n => $"{n!["id"]}:{n["endpoint"]!["port"]}"));
        foreach (var node in now["nodes"]!.AsArray())
        {
            using var docker = Docker(Engines[(string)node!["availabilityZone"]!]);
            var inspect = await docker.Containers.InspectContainerAsync($"{Instance}-{node["id"]}");
            Assert.Equal(600_000_000L, inspect.HostConfig?.NanoCPUs);
            Assert.StartsWith("VERSION ", await MemcachedScalingTests.MemcachedAsync((int)node["endpoint"]!["port"]!, "version\r\n"), StringComparison.Ordinal);
        }
    }

    /// <summary>When each node's container last started (Docker's own record), by node id.</summary>
    private async Task<Dictionary<string, DateTime>> StartTimesAsync(IEnumerable<JsonNode> nodes)
    {
        var times = new Dictionary<string, DateTime>();
        foreach (var node in nodes)
        {
            using var docker = Docker(Engines[(string)node["availabilityZone"]!]);
            var container = await docker.Containers.InspectContainerAsync($"{Instance}-{node["id"]}");
            times[(string)node["id"]!] = DateTime.Parse($"{container.State!.StartedAt:O}", System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.RoundtripKind);
        }
        return times;
    }

    private static IEnumerable<JsonNode> Nodes(JsonObject group) =>
        group["shards"]!.AsArray().SelectMany(s => s!["nodes"]!.AsArray()).Select(n => n!);
}
