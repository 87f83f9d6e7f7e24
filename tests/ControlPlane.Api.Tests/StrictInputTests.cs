using System.Net;
using System.Text;
using ControlPlane.Api.Tests.Infrastructure;
using ControlPlane.Domain;
using Microsoft.EntityFrameworkCore;

namespace ControlPlane.Api.Tests;

/// <summary>Exactly the JSON and query values the contract describes: everything else is 400 with its field, and nothing is stored.</summary>
public sealed class StrictInputTests(PostgresFixture postgres) : ApiTest(postgres)
{
    public static TheoryData<string, string, string> RefusedGroupBodies => new()
    {
        { "NUL in a string", "{\"id\":\"nul\",\"description\":\"a\\u0000b\"}", "description" },
        { "newline after the snapshot window", "{\"id\":\"win\",\"snapshotWindow\":\"05:00-06:00\\n\"}", "snapshotWindow" },
        { "a number in a string", "{\"id\":\"num\",\"replicasPerShard\":\"2\"}", "replicasPerShard" },
        { "an enum in another case", "{\"id\":\"case\",\"clusterMode\":\"Disabled\"}", "clusterMode" },
        { "a key in another case", "{\"ID\":\"upper\"}", "ID" },
        { "a key given twice", "{\"id\":\"dup\",\"id\":\"dup2\"}", "id" },
        { "a null shard", "{\"id\":\"nullshard\",\"clusterMode\":\"enabled\",\"shards\":[null]}", "shards[0]" },
        { "a date without a time", "{\"id\":\"date\",\"expiresAt\":\"2099-01-01\"}", "expiresAt" },
        { "an id with a leading space", "{\"id\":\" spaced\"}", "id" },
        { "an id with a tab", "{\"id\":\"tab\\t\"}", "id" },
        { "an id with a non-breaking space", "{\"id\":\"nbsp\\u00a0\"}", "id" },
        { "an id with the Kelvin sign", "{\"id\":\"\\u212Aelvin\"}", "id" },
        { "slots with a sign", "{\"id\":\"signs\",\"clusterMode\":\"enabled\",\"numShards\":1,\"shards\":[{\"slots\":\"+0-16383\"}]}", "shards[0].slots" },
        { "a fraction for an int", "{\"id\":\"frac\",\"replicasPerShard\":1.5}", "replicasPerShard" },
        { "a missing id", "{\"description\":\"x\"}", "id" },
    };

    [Theory]
    [MemberData(nameof(RefusedGroupBodies))]
    public async Task Refused_group_bodies_are_400_with_their_field_and_store_nothing(string name, string json, string field)
    {
        var response = await Client.PostAsync("/v1/replication-groups", Json(json));
        await AssertProblemAsync(response, HttpStatusCode.BadRequest, ErrorCodes.InvalidParameterValue, field);
        Assert.True(await CountAsync(db => db.ReplicationGroups) == 0, name);
        Assert.Equal(0, await CountAsync(db => db.Events));
    }

    [Fact]
    public async Task A_byte_order_mark_is_refused()
    {
        var content = new ByteArrayContent([.. Encoding.UTF8.GetPreamble(), .. "{\"id\":\"bom\"}"u8.ToArray()]);
        content.Headers.ContentType = new("application/json");
        await AssertProblemAsync(await Client.PostAsync("/v1/replication-groups", content), HttpStatusCode.BadRequest, ErrorCodes.InvalidParameterValue, "body");
        Assert.Equal(0, await CountAsync(db => db.ReplicationGroups));
    }

    [Fact]
    public async Task A_time_with_an_offset_is_stored_in_utc()
    {
        var body = await AssertAcceptedAsync(await Client.PostAsync("/v1/replication-groups", Json("{\"id\":\"offset\",\"expiresAt\":\"2099-01-01T00:00:00+05:00\"}")));
        Assert.Equal(new DateTimeOffset(2098, 12, 31, 19, 0, 0, TimeSpan.Zero), DateTimeOffset.Parse((string)body["expiresAt"]!));
        await using var db = Factory.NewDbContext();
        Assert.Equal(TimeSpan.Zero, (await db.ReplicationGroups.SingleAsync()).ExpiresAt!.Value.Offset);
    }

    [Fact]
    public async Task Patch_refuses_duplicate_keys_null_elements_and_numbers_in_strings()
    {
        await AssertAcceptedAsync(await PostAsync("/v1/cache-clusters", new { id = "mc", engine = "memcached", numNodes = 2 }));
        await MarkClusterAvailableAsync("mc");
        foreach (var (patch, field) in new[]
                 {
                     ("{\"numNodes\":1,\"nodeIdsToRemove\":[null]}", "nodeIdsToRemove[0]"),
                     ("{\"numNodes\":3,\"numNodes\":1}", "numNodes"),
                     ("{\"numNodes\":\"1\"}", "numNodes"),
                     ("{\"expiresAt\":\"2099-01-01\"}", "expiresAt"),
                 })
        {
            var request = new HttpRequestMessage(HttpMethod.Patch, "/v1/cache-clusters/mc") { Content = Json(patch, "application/merge-patch+json") };
            await AssertProblemAsync(await Client.SendAsync(request), HttpStatusCode.BadRequest, ErrorCodes.InvalidParameterValue, field);
        }
        await using var db = Factory.NewDbContext();
        var cluster = await db.CacheClusters.Include(c => c.Nodes).SingleAsync();
        Assert.Equal(2, cluster.NumNodes);
        Assert.All(cluster.Nodes, n => Assert.Equal(NodeStatus.Creating, n.Status));
    }

    [Theory]
    [InlineData("/v1/snapshots?replicationGroupId=a%00b", "replicationGroupId")]
    [InlineData("/v1/events?sourceId=a%00b", "sourceId")]
    [InlineData("/v1/replication-groups?cursor=AA", "cursor")]
    [InlineData("/v1/replication-groups?limit=1&limit=2", "limit")]
    [InlineData("/v1/replication-groups?limit=ten", "limit")]
    [InlineData("/v1/events?since=2030-01-01", "since")]
    [InlineData("/v1/replication-groups/a%01b", "id")] // TestServer itself refuses to send %00 in a path
    public async Task Bad_query_and_route_values_are_400_with_their_name(string url, string field) =>
        await AssertProblemAsync(await Client.GetAsync(url), HttpStatusCode.BadRequest, ErrorCodes.InvalidParameterValue, field);

    [Fact]
    public async Task Event_times_with_an_offset_are_read_as_utc()
    {
        await AssertAcceptedAsync(await PostAsync("/v1/cache-clusters", new { id = "ev", engine = "memcached" }));
        var now = Factory.Clock.GetUtcNow().ToOffset(TimeSpan.FromHours(5));
        var since = Uri.EscapeDataString(now.AddMinutes(-5).ToString("yyyy-MM-dd'T'HH:mm:sszzz"));
        var until = Uri.EscapeDataString(now.AddMinutes(5).ToString("yyyy-MM-dd'T'HH:mm:sszzz"));
        var events = (await BodyAsync(await Client.GetAsync($"/v1/events?since={since}&until={until}")))["items"]!.AsArray();
        Assert.Single(events);
    }
}
