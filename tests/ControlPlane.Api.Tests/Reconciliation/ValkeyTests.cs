using System.Net;
using System.Text.Json.Nodes;
using ControlPlane.Api.Tests.Infrastructure;
using Docker.DotNet.Models;
using StackExchange.Redis;

namespace ControlPlane.Api.Tests.Reconciliation;

/// <summary>Valkey 8.0 as a second engine of replication groups, on real Valkey nodes (the image deploy/images/build.sh builds).</summary>
public sealed class ValkeyTests(PostgresFixture postgres) : ReconcilerTest(postgres)
{
    [Fact]
    public async Task The_engine_versions_list_valkey_8_with_its_parameter_group_family()
    {
        var versions = JsonNode.Parse(await Client.GetStringAsync("/v1/engine-versions"))!.AsArray();
        var families = versions.Select(v => ((string?)v!["engine"], (string?)v["version"], (string?)v["family"])).ToList();
        Assert.Contains(("valkey", "8.0", "valkey8"), families);
        Assert.Contains(("redis", "7.0", "redis7"), families);
        Assert.Contains(("memcached", "1.6", "memcached1.6"), families);
    }

    [Theory]
    [InlineData("disabled", 1)]
    [InlineData("enabled", 2)]
    public async Task Both_cluster_modes_run_on_valkey_8(string clusterMode, int shards)
    {
        var id = $"vk-{clusterMode[..3]}";
        var group = await CreateAsync(new { id, engine = "valkey", clusterMode, numShards = shards, replicasPerShard = 1 });
        Assert.Equal(("valkey", "8.0"), ((string?)group["engine"], (string?)group["engineVersion"]));
        foreach (var node in Nodes(group))
        {
            await using var direct = await Scaling.DirectAsync(node);
            var info = await direct.GetServers()[0].InfoAsync("server");
            Assert.Equal("8.0.1", info.SelectMany(s => s).Single(p => p.Key == "valkey_version").Value);
        }
        await using var client = await Scaling.ConnectAsync(group);
        var keys = await Scaling.LoadAsync(client, 2_000, "v");
        await Scaling.AssertAllPresentAsync(client, keys);
    }

    [Fact]
    public async Task A_killed_valkey_primary_fails_over_without_losing_an_acknowledged_write()
    {
        var group = await CreateAsync(new { id = "vk-fail", engine = "valkey", replicasPerShard = 2 });
        var primary = Nodes(group).Single(n => (string?)n["role"] == "primary");
        await using var writer = await AcknowledgedWriter.StartAsync(async () =>
            RedisCreateTests.Endpoint((await BodyAsync(await Client.GetAsync("/v1/replication-groups/vk-fail")))["primaryEndpoint"]!));
        await writer.WaitForAsync(50);

        using (var docker = Docker(Engines[(string)primary["availabilityZone"]!]))
            await docker.Containers.KillContainerAsync($"{Instance}-{primary["id"]}", new ContainerKillParameters { Signal = "SIGKILL" });
        JsonObject? healed = null;
        await WaitUntilAsync(async () =>
        {
            healed = await BodyAsync(await Client.GetAsync("/v1/replication-groups/vk-fail"));
            var nodes = Nodes(healed).ToList();
            return (string?)healed["status"] == "available" && nodes.Count == 3
                && nodes.All(n => (string?)n["status"] == "available" && (string?)n["id"] != (string?)primary["id"]);
        }, TimeSpan.FromSeconds(60), () => $"never healed: {healed?.ToJsonString()}\n{EventsText()}");
        await writer.WaitForAsync(writer.Acknowledged.Count + 50);
        var acknowledged = await writer.StopAsync();

        await using (var client = await Scaling.ConnectAsync(healed!))
            await AcknowledgedWriter.AssertKeptAsync(client, acknowledged);
        Assert.Contains(healed!["shards"]![0]!["nodes"]!.AsArray(), n => (string?)n!["id"] == "vk-fail-0001-004");
    }

    [Theory]
    [InlineData("valkey")]
    [InlineData("redis")]
    public async Task Shards_and_replicas_scale_out_and_in_under_a_writer_with_every_key_kept(string engine)
    {
        var group = await CreateAsync(new { id = "vk-scale", engine, clusterMode = "enabled", numShards = 2, replicasPerShard = 0 });
        await using var client = await Scaling.ConnectAsync(group);
        var keys = await Scaling.LoadAsync(client, 20_000, "s");
        await using var writer = Scaling.ClusterWriter.Start(client);

        foreach (var change in new object[] { new { numShards = 3 }, new { replicasPerShard = 1 }, new { numShards = 2 }, new { replicasPerShard = 0 } })
        {
            await AssertAcceptedAsync(await PatchAsync("/v1/replication-groups/vk-scale", change));
            group = await WaitForStatusAsync("/v1/replication-groups/vk-scale", "available", TimeSpan.FromMinutes(3));
        }
        Assert.Equal(2, group["shards"]!.AsArray().Count);
        Assert.All(Nodes(group), n => Assert.Equal("primary", (string?)n["role"]));

        var acknowledged = await writer.StopAsync();
        Assert.True(acknowledged.Count > 50, $"the writer got only {acknowledged.Count} writes through");
        await Scaling.AssertAllPresentAsync(client, keys);
        await Scaling.AssertAllPresentAsync(client, acknowledged);
        await Scaling.AssertNoSlotOpenAsync(group);
    }

    [Fact]
    public async Task A_redis_7_snapshot_restores_into_valkey_8_and_not_the_other_way_round()
    {
        var source = await CreateAsync(new { id = "from-redis", clusterMode = "enabled", numShards = 2, replicasPerShard = 0 });
        Assert.Equal("redis", (string?)source["engine"]);
        Dataset original;
        await using (var client = await Scaling.ConnectAsync(source))
            original = await Dataset.LoadAsync(client, 10_000);
        await AssertAcceptedAsync(await PostAsync("/v1/snapshots", new { name = "redis-snap", replicationGroupId = "from-redis" }));
        await WaitForStatusAsync("/v1/snapshots/redis-snap", "available");

        var restored = await CreateAsync(new
        {
            id = "into-valkey", engine = "valkey", clusterMode = "enabled", numShards = 2, replicasPerShard = 1, restoreFromSnapshot = "redis-snap",
        });
        await using (var client = await Scaling.ConnectAsync(restored))
            await original.AssertSameAsync(client);

        await AssertAcceptedAsync(await PostAsync("/v1/snapshots", new { name = "valkey-snap", replicationGroupId = "into-valkey" }));
        await WaitForStatusAsync("/v1/snapshots/valkey-snap", "available");
        var refused = await PostAsync("/v1/replication-groups",
            new { id = "back-to-redis", engine = "redis", clusterMode = "enabled", numShards = 2, restoreFromSnapshot = "valkey-snap" });
        Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        Assert.Contains("restoreFromSnapshot", await refused.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.NotFound, (await Client.GetAsync("/v1/replication-groups/back-to-redis")).StatusCode);
    }

    [Fact]
    public async Task An_unknown_engine_or_a_version_of_another_engine_is_refused_with_its_field()
    {
        await AssertProblemAsync(await PostAsync("/v1/replication-groups", new { id = "bad-engine", engine = "keydb" }),
            HttpStatusCode.BadRequest, "InvalidParameterValue", "engine");
        await AssertProblemAsync(await PostAsync("/v1/replication-groups", new { id = "bad-version", engine = "valkey", engineVersion = "7.0" }),
            HttpStatusCode.BadRequest, "InvalidParameterValue", "engineVersion");
        Assert.Equal(HttpStatusCode.NotFound, (await Client.GetAsync("/v1/replication-groups/bad-version")).StatusCode);
    }

    private async Task<JsonObject> CreateAsync(object body)
    {
        var id = (string)(await AssertAcceptedAsync(await PostAsync("/v1/replication-groups", body)))["id"]!;
        return await WaitForStatusAsync($"/v1/replication-groups/{id}", "available", TimeSpan.FromMinutes(2));
    }

    private static IEnumerable<JsonNode> Nodes(JsonObject group) =>
        group["shards"]!.AsArray().SelectMany(s => s!["nodes"]!.AsArray()).Select(n => n!);
}
