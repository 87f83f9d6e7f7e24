using System.Net;
using System.Text.Json.Nodes;
using ControlPlane.Api.Tests.Infrastructure;

namespace ControlPlane.Api.Tests.Reconciliation;

/// <summary>In-place engine upgrades, Redis 7.0 to Valkey 8.0, on real nodes under an acknowledged writer.</summary>
public sealed class UpgradeTests(PostgresFixture postgres) : ReconcilerTest(postgres)
{
    [Theory]
    [InlineData("disabled", 1)]
    [InlineData("enabled", 2)]
    public async Task Redis_7_becomes_valkey_8_in_place_with_every_key_and_acknowledged_write_kept(string clusterMode, int shards)
    {
        var id = $"up-{clusterMode[..3]}";
        await PostAsync("/v1/parameter-groups", new { name = $"{id}-old", family = "redis7" });
        await PostAsync("/v1/parameter-groups", new { name = $"{id}-new", family = "valkey8" });
        var parameterGroup = clusterMode == "enabled" ? "default.redis7.cluster.on" : $"{id}-old";
        await AssertAcceptedAsync(await PostAsync("/v1/replication-groups", new { id, clusterMode, numShards = shards, replicasPerShard = 1, parameterGroupName = parameterGroup }));
        var group = await WaitForStatusAsync($"/v1/replication-groups/{id}", "available");
        var original = Nodes(group).Select(n => (string)n["id"]!).ToList();
        List<string> keys;
        await using (var client = await Scaling.ConnectAsync(group))
            keys = await Scaling.LoadAsync(client, 20_000, "k");

        // Refused, with nothing changed: a downgrade within an engine, an unknown version, a group of one's own of the old family.
        await AssertProblemAsync(await PatchAsync($"/v1/replication-groups/{id}", new { engineVersion = "6.2" }), HttpStatusCode.BadRequest, "InvalidParameterValue", "engineVersion");
        await AssertProblemAsync(await PatchAsync($"/v1/replication-groups/{id}", new { engine = "memcached" }), HttpStatusCode.BadRequest, "InvalidParameterValue", "engine");
        if (clusterMode == "disabled")
            await AssertProblemAsync(await PatchAsync($"/v1/replication-groups/{id}", new { engine = "valkey" }), HttpStatusCode.BadRequest, "InvalidParameterCombination", "parameterGroupName");
        var unchanged = await BodyAsync(await Client.GetAsync($"/v1/replication-groups/{id}"));
        Assert.Equal(("redis", "7.0", "available"), ((string?)unchanged["engine"], (string?)unchanged["engineVersion"], (string?)unchanged["status"]));

        await using var writer = await AcknowledgedWriter.StartAsync(async () =>
        {
            var now = await BodyAsync(await Client.GetAsync($"/v1/replication-groups/{id}"));
            return RedisCreateTests.Endpoint(now["configurationEndpoint"] ?? now["primaryEndpoint"]!);
        }, cluster: clusterMode == "enabled");
        await writer.WaitForAsync(50);
        object upgrade = clusterMode == "enabled" ? new { engine = "valkey" } : new { engine = "valkey", engineVersion = "8.0", parameterGroupName = $"{id}-new" };
        var accepted = await AssertAcceptedAsync(await PatchAsync($"/v1/replication-groups/{id}", upgrade));
        Assert.Equal(("valkey", "8.0", "modifying"), ((string?)accepted["engine"], (string?)accepted["engineVersion"], (string?)accepted["status"]));
        Assert.Equal(clusterMode == "enabled" ? "default.valkey8.cluster.on" : $"{id}-new", (string?)accepted["parameterGroupName"]);

        JsonObject? upgraded = null;
        await WaitUntilAsync(async () =>
        {
            upgraded = await BodyAsync(await Client.GetAsync($"/v1/replication-groups/{id}"));
            return (string?)upgraded["status"] == "available" && Nodes(upgraded).Count() == 2 * shards && Nodes(upgraded).All(n => !original.Contains((string)n["id"]!));
        }, TimeSpan.FromMinutes(4), () => $"the upgrade never finished: {upgraded?.ToJsonString()}\n{EventsText()}");
        await writer.WaitForAsync(writer.Acknowledged.Count + 50);
        var acknowledged = await writer.StopAsync();

        foreach (var node in Nodes(upgraded!))
        {
            await using var direct = await Scaling.DirectAsync(node);
            Assert.Equal("8.0.1", (await direct.GetServers()[0].InfoAsync("server")).SelectMany(s => s).Single(p => p.Key == "valkey_version").Value);
        }
        await using (var client = await Scaling.ConnectAsync(upgraded!))
        {
            await Scaling.AssertAllPresentAsync(client, keys);
            await AcknowledgedWriter.AssertKeptAsync(client, acknowledged);
        }

        // And never back.
        await AssertProblemAsync(await PatchAsync($"/v1/replication-groups/{id}", new { engine = "redis", engineVersion = "7.0" }),
            HttpStatusCode.BadRequest, "InvalidParameterCombination", "engine");
    }

    private static IEnumerable<JsonNode> Nodes(JsonObject group) =>
        group["shards"]!.AsArray().SelectMany(s => s!["nodes"]!.AsArray()).Select(n => n!);
}
