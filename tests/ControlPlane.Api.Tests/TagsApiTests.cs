using System.Net;
using System.Text.Json.Nodes;
using ControlPlane.Api.Tests.Infrastructure;

namespace ControlPlane.Api.Tests;

/// <summary>Tags on the REST side: a JSON merge patch of a resource's tags, with ElastiCache's limits and the key's tenant.</summary>
public sealed class TagsApiTests(PostgresFixture postgres) : ApiTest(postgres)
{
    [Fact]
    public async Task Tags_are_set_and_removed_by_merge_patch_and_go_with_the_group()
    {
        await AssertAcceptedAsync(await PostAsync("/v1/replication-groups", new { id = "tagged" }));
        Assert.Equal("{}", (await Client.GetStringAsync("/v1/replication-groups/tagged/tags")).Trim());

        var set = await PatchAsync("/v1/replication-groups/tagged/tags", new Dictionary<string, string?> { ["team"] = "payments", ["env"] = "prod" });
        Assert.Equal(HttpStatusCode.OK, set.StatusCode);
        var removed = await PatchAsync("/v1/replication-groups/tagged/tags", new Dictionary<string, string?> { ["env"] = null, ["tier"] = "gold" });
        Assert.Equal("""{"team":"payments","tier":"gold"}""", (await BodyAsync(removed)).ToJsonString());
        Assert.Equal("""{"team":"payments","tier":"gold"}""", JsonNode.Parse(await Client.GetStringAsync("/v1/replication-groups/tagged/tags"))!.ToJsonString());

        await using (var db = Factory.NewDbContext())
        {
            db.ReplicationGroups.Remove(db.ReplicationGroups.Single(g => g.Id == "tagged"));
            await db.SaveChangesAsync();
        }
        await AssertAcceptedAsync(await PostAsync("/v1/replication-groups", new { id = "tagged" }));
        Assert.Equal("{}", (await Client.GetStringAsync("/v1/replication-groups/tagged/tags")).Trim());
    }

    [Fact]
    public async Task Tag_limits_unknown_resources_roles_and_tenants_are_enforced()
    {
        await AssertAcceptedAsync(await PostAsync("/v1/cache-clusters", new { id = "bag", engine = "memcached" }));
        var fifty = Enumerable.Range(0, 50).ToDictionary(i => $"k{i}", i => (string?)"v");
        Assert.Equal(HttpStatusCode.OK, (await PatchAsync("/v1/cache-clusters/bag/tags", fifty)).StatusCode);
        await AssertProblemAsync(await PatchAsync("/v1/cache-clusters/bag/tags", new Dictionary<string, string?> { ["one-more"] = "v" }),
            HttpStatusCode.BadRequest, "TagQuotaPerResourceExceeded");
        await AssertProblemAsync(await PatchAsync("/v1/cache-clusters/bag/tags", new Dictionary<string, string?> { ["aws:owner"] = "v", ["k0"] = null }),
            HttpStatusCode.BadRequest, "InvalidParameterValue", "tags");
        Assert.Equal(50, JsonNode.Parse(await Client.GetStringAsync("/v1/cache-clusters/bag/tags"))!.AsObject().Count);
        await AssertProblemAsync(await PatchAsync("/v1/cache-clusters/none/tags", new Dictionary<string, string?> { ["a"] = "b" }),
            HttpStatusCode.NotFound, "CacheClusterNotFound");
        await AssertProblemAsync(await Client.GetAsync("/v1/snapshots/none/tags"), HttpStatusCode.NotFound, "SnapshotNotFound");

        var viewer = (string)(await NewKeyAsync("viewer", "default"))["key"]!;
        Assert.Equal(HttpStatusCode.OK, (await SendAsync("GET", "/v1/cache-clusters/bag/tags", viewer)).StatusCode);
        await AssertProblemAsync(await SendAsync("PATCH", "/v1/cache-clusters/bag/tags", viewer, new { a = "b" }), HttpStatusCode.Forbidden, "AccessDenied");
        var stranger = (string)(await NewKeyAsync("operator", "acme"))["key"]!;
        await AssertProblemAsync(await SendAsync("GET", "/v1/cache-clusters/bag/tags", stranger), HttpStatusCode.NotFound, "CacheClusterNotFound");
        await AssertProblemAsync(await SendAsync("PATCH", "/v1/cache-clusters/bag/tags", stranger, new { a = "b" }), HttpStatusCode.NotFound, "CacheClusterNotFound");
    }
}
