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

        var accepted = await AssertAcceptedAsync(await PostAsync("/v1/replication-groups/rolling/reboot", new { nodeIds = original }));
        Assert.Equal("modifying", (string?)accepted["status"]);
        var busiest = 0;
        JsonObject? now = null;
        await WaitUntilAsync(async () =>
        {
            now = await BodyAsync(await Client.GetAsync("/v1/replication-groups/rolling"));
            // A shard is being rebooted while it holds old and new nodes at once: never two shards together.
            var underway = now["shards"]!.AsArray().Count(s =>
            {
                var ids = s!["nodes"]!.AsArray().Select(n => (string)n!["id"]!).ToList();
                return ids.Any(original.Contains) && ids.Any(i => !original.Contains(i));
            });
            busiest = Math.Max(busiest, underway);
            return (string?)now["status"] == "available" && Nodes(now).Count() == 6 && Nodes(now).All(n => !original.Contains((string)n["id"]!));
        }, TimeSpan.FromMinutes(4), () => $"the reboot never finished: {now?.ToJsonString()}\n{EventsText()}");
        Assert.Equal(1, busiest);
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

        await AssertAcceptedAsync(await PostAsync("/v1/replication-groups/dbs/reboot", new { nodeIds = Nodes(group).Select(n => (string)n["id"]!).ToArray() }));
        JsonObject? now = null;
        await WaitUntilAsync(async () =>
        {
            now = await BodyAsync(await Client.GetAsync("/v1/replication-groups/dbs"));
            return (string?)now["status"] == "available" && Nodes(now).Count() == 2 && Nodes(now).All(n => (string?)n["parameterGroupStatus"] == "in-sync");
        }, TimeSpan.FromMinutes(2), () => $"never rebooted into sync: {now?.ToJsonString()}\n{EventsText()}");
        foreach (var node in Nodes(now!))
        {
            await using var direct = await Scaling.DirectAsync(node);
            Assert.Equal("32", (string?)(await direct.GetServers()[0].ConfigGetAsync("databases")).Single().Value);
        }
        await using var client = await Scaling.ConnectAsync(now!);
        Assert.Equal("yes", (string?)await client.GetDatabase().StringGetAsync("kept"));
    }

    [Fact]
    public async Task A_memcached_node_is_rebooted_as_a_new_node_in_its_zone_and_bad_requests_change_nothing()
    {
        await AssertAcceptedAsync(await PostAsync("/v1/cache-clusters", new { id = "mcr", engine = "memcached", numNodes = 2, azMode = "cross-az" }));
        var cluster = await WaitForStatusAsync("/v1/cache-clusters/mcr", "available");
        var victim = cluster["nodes"]![0]!;

        await AssertProblemAsync(await PostAsync("/v1/cache-clusters/mcr/reboot", new { nodeIds = new[] { "mcr-0009" } }), HttpStatusCode.BadRequest, "InvalidParameterValue", "nodeIds");
        await AssertProblemAsync(await PostAsync("/v1/cache-clusters/mcr/reboot", new { nodeIds = Array.Empty<string>() }), HttpStatusCode.BadRequest, "InvalidParameterValue", "nodeIds");
        await AssertProblemAsync(await PostAsync("/v1/replication-groups/none/reboot", new { nodeIds = new[] { "x" } }), HttpStatusCode.NotFound, "ReplicationGroupNotFound");
        Assert.Equal("available", (string?)(await BodyAsync(await Client.GetAsync("/v1/cache-clusters/mcr")))["status"]);

        await AssertAcceptedAsync(await PostAsync("/v1/cache-clusters/mcr/reboot", new { nodeIds = new[] { (string)victim["id"]! } }));
        await AssertProblemAsync(await PostAsync("/v1/cache-clusters/mcr/reboot", new { nodeIds = new[] { (string)cluster["nodes"]![1]!["id"]! } }),
            HttpStatusCode.Conflict, "InvalidCacheClusterState");
        JsonObject? now = null;
        await WaitUntilAsync(async () =>
        {
            now = await BodyAsync(await Client.GetAsync("/v1/cache-clusters/mcr"));
            var nodes = now["nodes"]!.AsArray();
            return (string?)now["status"] == "available" && nodes.Count == 2 && nodes.All(n => (string?)n!["status"] == "available" && (string?)n["id"] != (string?)victim["id"]);
        }, TimeSpan.FromSeconds(60), () => $"never rebooted: {now?.ToJsonString()}");
        Assert.Contains(now!["nodes"]!.AsArray(), n => (string?)n!["id"] == "mcr-0003" && (string?)n["availabilityZone"] == (string?)victim["availabilityZone"]);
    }

    private static IEnumerable<JsonNode> Nodes(JsonObject group) =>
        group["shards"]!.AsArray().SelectMany(s => s!["nodes"]!.AsArray()).Select(n => n!);
}
