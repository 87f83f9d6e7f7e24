using System.Net;
using ControlPlane.Api.Tests.Infrastructure;

namespace ControlPlane.Api.Tests;

public sealed class SmokeTests(PostgresFixture postgres) : ApiTest(postgres)
{
    [Fact]
    public async Task Create_then_get_returns_the_group_as_creating()
    {
        var created = await AssertAcceptedAsync(await PostAsync("/v1/replication-groups", new { id = "Orders", replicasPerShard = 2 }));
        Assert.Equal("orders", (string?)created["id"]);
        Assert.Equal("creating", (string?)created["status"]);
        var get = await Client.GetAsync("/v1/replication-groups/orders");
        Assert.Equal(HttpStatusCode.OK, get.StatusCode);
        var body = await BodyAsync(get);
        Assert.Equal(3, body["shards"]![0]!["nodes"]!.AsArray().Count);
        Assert.Equal(get.Headers.ETag?.ToString(), (string?)body["etag"]);
    }
}
