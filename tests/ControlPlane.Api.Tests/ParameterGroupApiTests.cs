using System.Net;
using System.Text.Json.Nodes;
using ControlPlane.Api.Tests.Infrastructure;

namespace ControlPlane.Api.Tests;

/// <summary>The parameter-group REST endpoints and parameterGroupName on groups and clusters, on a real Postgres.</summary>
public sealed class ParameterGroupApiTests(PostgresFixture postgres) : ApiTest(postgres)
{
    [Fact]
    public async Task The_default_groups_hold_elasticaches_defaults_and_cannot_be_changed()
    {
        var names = (await BodyAsync(await Client.GetAsync("/v1/parameter-groups")))["items"]!.AsArray().Select(g => (string?)g!["name"]).ToList();
        Assert.Equal(["default.redis7", "default.redis7.cluster.on", "default.valkey8", "default.valkey8.cluster.on", "default.memcached1.6"], names);

        var redis = await BodyAsync(await Client.GetAsync("/v1/parameter-groups/default.redis7"));
        var policy = Parameter(redis, "maxmemory-policy");
        Assert.Equal(("volatile-lru", "immediate", "engine-default", true), ((string?)policy["value"], (string?)policy["changeType"], (string?)policy["source"], (bool)policy["isModifiable"]!));
        Assert.Contains("noeviction", (string)policy["allowedValues"]!);
        Assert.Equal("25", (string?)Parameter(redis, "reserved-memory-percent")["value"]);
        Assert.Equal("requires-reboot", (string?)Parameter(redis, "databases")["changeType"]);
        Assert.Equal("yes", (string?)Parameter(await BodyAsync(await Client.GetAsync("/v1/parameter-groups/default.valkey8.cluster.on")), "cluster-enabled")["value"]);
        var memcached = await BodyAsync(await Client.GetAsync("/v1/parameter-groups/default.memcached1.6"));
        Assert.All(memcached["parameters"]!.AsArray(), p => Assert.Equal("requires-reboot", (string?)p!["changeType"]));

        await AssertProblemAsync(await PatchAsync("/v1/parameter-groups/default.redis7", new { parameters = new Dictionary<string, string> { ["timeout"] = "300" } }),
            HttpStatusCode.BadRequest, "InvalidParameterGroupState", "name");
        await AssertProblemAsync(await PostAsync("/v1/parameter-groups/default.valkey8/reset", new { all = true }), HttpStatusCode.BadRequest, "InvalidParameterGroupState");
        await AssertProblemAsync(await Client.DeleteAsync("/v1/parameter-groups/default.memcached1.6"), HttpStatusCode.BadRequest, "InvalidParameterGroupState");
        await AssertProblemAsync(await PostAsync("/v1/parameter-groups", new { name = "default.mine", family = "redis7" }), HttpStatusCode.BadRequest, "InvalidParameterValue", "name");
        Assert.Equal("0", (string?)Parameter(await BodyAsync(await Client.GetAsync("/v1/parameter-groups/default.redis7")), "timeout")["value"]);
    }

    [Fact]
    public async Task A_group_is_created_modified_reset_and_deleted_and_bad_values_change_nothing()
    {
        Assert.Equal(HttpStatusCode.Created, (await PostAsync("/v1/parameter-groups", new { name = "tuned", family = "valkey8", description = "events" })).StatusCode);
        await AssertProblemAsync(await PostAsync("/v1/parameter-groups", new { name = "tuned", family = "valkey8" }), HttpStatusCode.Conflict, "CacheParameterGroupAlreadyExists");
        await AssertProblemAsync(await PostAsync("/v1/parameter-groups", new { name = "other", family = "redis6" }), HttpStatusCode.BadRequest, "InvalidParameterValue", "family");

        var modified = await BodyAsync(await PatchAsync("/v1/parameter-groups/tuned",
            new { parameters = new Dictionary<string, string> { ["maxmemory-policy"] = "allkeys-lru", ["notify-keyspace-events"] = "Ex" } }));
        Assert.Equal(("allkeys-lru", "user"), ((string?)Parameter(modified, "maxmemory-policy")["value"], (string?)Parameter(modified, "maxmemory-policy")["source"]));

        // One bad entry refuses the whole change.
        await AssertProblemAsync(await PatchAsync("/v1/parameter-groups/tuned",
            new { parameters = new Dictionary<string, string> { ["timeout"] = "300", ["maxmemory-policy"] = "evict-everything" } }),
            HttpStatusCode.BadRequest, "InvalidParameterValue", "parameters.maxmemory-policy");
        await AssertProblemAsync(await PatchAsync("/v1/parameter-groups/tuned", new { parameters = new Dictionary<string, string> { ["no-such"] = "1" } }),
            HttpStatusCode.BadRequest, "InvalidParameterValue", "parameters.no-such");
        await AssertProblemAsync(await PatchAsync("/v1/parameter-groups/tuned", new { parameters = new Dictionary<string, string> { ["maxclients"] = "10" } }),
            HttpStatusCode.BadRequest, "InvalidParameterValue", "parameters.maxclients");
        var unchanged = await BodyAsync(await Client.GetAsync("/v1/parameter-groups/tuned"));
        Assert.Equal(("0", "allkeys-lru"), ((string?)Parameter(unchanged, "timeout")["value"], (string?)Parameter(unchanged, "maxmemory-policy")["value"]));

        var reset = await BodyAsync(await PostAsync("/v1/parameter-groups/tuned/reset", new { parameterNames = new[] { "maxmemory-policy" } }));
        Assert.Equal(("volatile-lru", "engine-default"), ((string?)Parameter(reset, "maxmemory-policy")["value"], (string?)Parameter(reset, "maxmemory-policy")["source"]));
        Assert.Equal("Ex", (string?)Parameter(reset, "notify-keyspace-events")["value"]);
        await AssertProblemAsync(await PostAsync("/v1/parameter-groups/tuned/reset", new { }), HttpStatusCode.BadRequest, "InvalidParameterCombination", "parameterNames");
        var all = await BodyAsync(await PostAsync("/v1/parameter-groups/tuned/reset", new { all = true }));
        Assert.All(all["parameters"]!.AsArray(), p => Assert.Equal("engine-default", (string?)p!["source"]));

        Assert.Equal(HttpStatusCode.NoContent, (await Client.DeleteAsync("/v1/parameter-groups/tuned")).StatusCode);
        await AssertProblemAsync(await Client.GetAsync("/v1/parameter-groups/tuned"), HttpStatusCode.NotFound, "CacheParameterGroupNotFound");
    }

    [Fact]
    public async Task Groups_and_clusters_take_a_parameter_group_of_their_family_and_mode()
    {
        await PostAsync("/v1/parameter-groups", new { name = "redis-tuned", family = "redis7" });
        await PostAsync("/v1/parameter-groups", new { name = "valkey-tuned", family = "valkey8" });
        await PostAsync("/v1/parameter-groups", new { name = "mc-tuned", family = "memcached1.6" });

        await AssertProblemAsync(await PostAsync("/v1/replication-groups", new { id = "wrong-family", parameterGroupName = "valkey-tuned" }),
            HttpStatusCode.BadRequest, "InvalidParameterCombination", "parameterGroupName");
        await AssertProblemAsync(await PostAsync("/v1/replication-groups", new { id = "wrong-mode", parameterGroupName = "default.redis7.cluster.on" }),
            HttpStatusCode.BadRequest, "InvalidParameterCombination", "parameterGroupName");
        await AssertProblemAsync(await PostAsync("/v1/replication-groups", new { id = "no-group", parameterGroupName = "missing" }),
            HttpStatusCode.NotFound, "CacheParameterGroupNotFound");
        Assert.Equal(HttpStatusCode.NotFound, (await Client.GetAsync("/v1/replication-groups/wrong-family")).StatusCode);

        var plain = await AssertAcceptedAsync(await PostAsync("/v1/replication-groups", new { id = "plain", engine = "valkey", clusterMode = "enabled", numShards = 1 }));
        Assert.Equal("default.valkey8.cluster.on", (string?)plain["parameterGroupName"]);
        var tuned = await AssertAcceptedAsync(await PostAsync("/v1/replication-groups", new { id = "tuned", engine = "valkey", parameterGroupName = "valkey-tuned" }));
        Assert.Equal("valkey-tuned", (string?)tuned["parameterGroupName"]);
        // In sync only once the reconciler has set the values on them.
        Assert.All(tuned["shards"]![0]!["nodes"]!.AsArray(), n => Assert.Equal("applying", (string?)n!["parameterGroupStatus"]));

        var cluster = await AssertAcceptedAsync(await PostAsync("/v1/cache-clusters", new { id = "mc", engine = "memcached", parameterGroupName = "mc-tuned" }));
        Assert.Equal("mc-tuned", (string?)cluster["parameterGroupName"]);
        await AssertProblemAsync(await PostAsync("/v1/cache-clusters", new { id = "mc2", engine = "memcached", parameterGroupName = "redis-tuned" }),
            HttpStatusCode.BadRequest, "InvalidParameterCombination", "parameterGroupName");

        // In use: cannot be deleted until nothing uses it.
        await AssertProblemAsync(await Client.DeleteAsync("/v1/parameter-groups/valkey-tuned"), HttpStatusCode.BadRequest, "InvalidParameterGroupState");
        await AssertProblemAsync(await Client.DeleteAsync("/v1/parameter-groups/mc-tuned"), HttpStatusCode.BadRequest, "InvalidParameterGroupState");
        Assert.Equal(HttpStatusCode.OK, (await Client.GetAsync("/v1/parameter-groups/valkey-tuned")).StatusCode);
    }

    [Fact]
    public async Task A_tenant_sees_the_shared_defaults_and_only_its_own_groups()
    {
        await PostAsync("/v1/parameter-groups", new { name = "ours", family = "redis7" });
        var acme = (string)(await NewKeyAsync("operator", "acme"))["key"]!;
        Assert.Equal(HttpStatusCode.NotFound, (await SendAsync("GET", "/v1/parameter-groups/ours", acme)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await SendAsync("GET", "/v1/parameter-groups/default.redis7", acme)).StatusCode);
        Assert.Equal(HttpStatusCode.Created, (await SendAsync("POST", "/v1/parameter-groups", acme, new { name = "ours", family = "valkey8" })).StatusCode);
        Assert.Equal(HttpStatusCode.OK,
            (await SendAsync("PATCH", "/v1/parameter-groups/ours", acme, new { parameters = new Dictionary<string, string> { ["timeout"] = "300" } })).StatusCode);

        var own = await BodyAsync(await Client.GetAsync("/v1/parameter-groups/ours"));
        Assert.Equal(("redis7", "0"), ((string?)own["family"], (string?)Parameter(own, "timeout")["value"]));
        var theirs = await BodyAsync(await SendAsync("GET", "/v1/parameter-groups", acme));
        Assert.Equal("valkey8", (string?)theirs["items"]!.AsArray().Single(g => (string?)g!["name"] == "ours")!["family"]);
    }

    private static JsonNode Parameter(JsonObject group, string name) =>
        group["parameters"]!.AsArray().Single(p => (string?)p!["name"] == name)!;
}
