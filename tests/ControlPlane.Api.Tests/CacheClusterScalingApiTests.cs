using System.Net;
using System.Text.Json.Nodes;
using ControlPlane.Api.Tests.Infrastructure;
using ControlPlane.Domain;
using Microsoft.EntityFrameworkCore;

namespace ControlPlane.Api.Tests;

/// <summary>numNodes up and down: the API decides which nodes come and go and stores the choice; nothing is stored when it refuses.</summary>
public sealed class CacheClusterScalingApiTests(PostgresFixture postgres) : ApiTest(postgres)
{
    protected override IReadOnlyDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["ControlPlane:AvailabilityZones:0:Name"] = "az-a",
        ["ControlPlane:AvailabilityZones:0:DockerEndpoint"] = "unix:///nowhere-a.sock",
        ["ControlPlane:AvailabilityZones:0:Host"] = "127.0.0.1",
        ["ControlPlane:AvailabilityZones:1:Name"] = "az-b",
        ["ControlPlane:AvailabilityZones:1:DockerEndpoint"] = "unix:///nowhere-b.sock",
        ["ControlPlane:AvailabilityZones:1:Host"] = "127.0.0.1",
        ["ControlPlane:AvailabilityZones:2:Name"] = "az-c",
        ["ControlPlane:AvailabilityZones:2:DockerEndpoint"] = "unix:///nowhere-c.sock",
        ["ControlPlane:AvailabilityZones:2:Host"] = "127.0.0.1",
    };

    private async Task CreateAvailableAsync(string id, int numNodes, string azMode = "cross-az")
    {
        await AssertAcceptedAsync(await PostAsync("/v1/cache-clusters", new { id, engine = "memcached", numNodes, azMode }));
        await MarkClusterAvailableAsync(id);
        await using var db = Factory.NewDbContext();
        await db.CacheNodes.Where(n => n.CacheClusterId == id).ExecuteUpdateAsync(s => s.SetProperty(n => n.Status, NodeStatus.Available));
    }

    private static Dictionary<string, (string Zone, string Status)> Nodes(JsonObject body) =>
        body["nodes"]!.AsArray().ToDictionary(n => (string)n!["id"]!, n => ((string)n!["availabilityZone"]!, (string)n["status"]!));

    [Fact]
    public async Task Scale_out_adds_nodes_that_continue_the_ids_spread_over_the_emptiest_zones()
    {
        await CreateAvailableAsync("grow", 2);
        var body = await AssertAcceptedAsync(await PatchAsync("/v1/cache-clusters/grow", new { numNodes = 5 }));
        Assert.Equal("modifying", (string?)body["status"]);
        Assert.Equal(5, (int?)body["numNodes"]);
        Assert.Equal(5, (int?)body["pendingChanges"]!["numNodes"]);
        var nodes = Nodes(body);
        Assert.Equal(("az-a", "available"), nodes["grow-0001"]);
        Assert.Equal(("az-b", "available"), nodes["grow-0002"]);
        Assert.Equal(("az-c", "creating"), nodes["grow-0003"]);
        Assert.Equal(("az-a", "creating"), nodes["grow-0004"]);
        Assert.Equal(("az-b", "creating"), nodes["grow-0005"]);
        await AssertProblemAsync(await PatchAsync("/v1/cache-clusters/grow", new { numNodes = 6 }), HttpStatusCode.Conflict, ErrorCodes.InvalidCacheClusterState);
    }

    [Fact]
    public async Task Scale_out_of_a_single_az_cluster_stays_in_its_zone()
    {
        await CreateAvailableAsync("home", 1, "single-az");
        var body = await AssertAcceptedAsync(await PatchAsync("/v1/cache-clusters/home", new { numNodes = 3 }));
        Assert.All(Nodes(body).Values, n => Assert.Equal("az-a", n.Zone));
    }

    [Fact]
    public async Task Scale_in_without_ids_marks_the_newest_nodes_deleting()
    {
        await CreateAvailableAsync("shrink", 4);
        var body = await AssertAcceptedAsync(await PatchAsync("/v1/cache-clusters/shrink", new { numNodes = 2 }));
        Assert.Equal(2, (int?)body["numNodes"]);
        var nodes = Nodes(body);
        Assert.Equal(["available", "available", "deleting", "deleting"], nodes.OrderBy(n => n.Key).Select(n => n.Value.Status));
        Assert.Equal(["shrink-0004", "shrink-0003"], body["pendingChanges"]!["nodeIdsToRemove"]!.AsArray().Select(n => (string)n!));
    }

    [Fact]
    public async Task Scale_in_honours_node_ids_to_remove()
    {
        await CreateAvailableAsync("pick", 3);
        var body = await AssertAcceptedAsync(await PatchAsync("/v1/cache-clusters/pick", new { numNodes = 2, nodeIdsToRemove = new[] { "pick-0001" } }));
        Assert.Equal("deleting", Nodes(body)["pick-0001"].Status);
        Assert.Equal("available", Nodes(body)["pick-0003"].Status);
        Assert.Equal("modifying", (string?)(await BodyAsync(await Client.GetAsync("/v1/cache-clusters/pick")))["status"]);
        await AssertProblemAsync(await PatchAsync("/v1/cache-clusters/pick", new { numNodes = 1 }), HttpStatusCode.Conflict, ErrorCodes.InvalidCacheClusterState);
    }

    [Fact]
    public async Task Refused_node_ids_to_remove_store_nothing()
    {
        await CreateAvailableAsync("keep", 4);
        var before = (await Client.GetAsync("/v1/cache-clusters/keep")).Headers.ETag!.ToString();
        await AssertProblemAsync(await PatchAsync("/v1/cache-clusters/keep", new { numNodes = 3, nodeIdsToRemove = new[] { "keep-0009" } }),
            HttpStatusCode.BadRequest, ErrorCodes.InvalidParameterValue, "nodeIdsToRemove");
        await AssertProblemAsync(await PatchAsync("/v1/cache-clusters/keep", new { numNodes = 2, nodeIdsToRemove = new[] { "keep-0001" } }),
            HttpStatusCode.BadRequest, ErrorCodes.InvalidParameterCombination, "nodeIdsToRemove");
        await AssertProblemAsync(await PatchAsync("/v1/cache-clusters/keep", new { numNodes = 3, nodeIdsToRemove = new[] { "keep-0001", "keep-0002" } }),
            HttpStatusCode.BadRequest, ErrorCodes.InvalidParameterCombination, "nodeIdsToRemove");
        await AssertProblemAsync(await PatchAsync("/v1/cache-clusters/keep", new { numNodes = 5, nodeIdsToRemove = new[] { "keep-0001" } }),
            HttpStatusCode.BadRequest, ErrorCodes.InvalidParameterCombination, "nodeIdsToRemove");
        await AssertProblemAsync(await PatchAsync("/v1/cache-clusters/keep", new { nodeIdsToRemove = new[] { "keep-0001" } }),
            HttpStatusCode.BadRequest, ErrorCodes.InvalidParameterCombination, "nodeIdsToRemove");
        await AssertProblemAsync(await PatchAsync("/v1/cache-clusters/keep", new { numNodes = 2, nodeIdsToRemove = new[] { "keep-0001", "keep-0001" } }),
            HttpStatusCode.BadRequest, ErrorCodes.InvalidParameterValue, "nodeIdsToRemove");

        var response = await Client.GetAsync("/v1/cache-clusters/keep");
        var body = await BodyAsync(response);
        Assert.Equal(before, response.Headers.ETag!.ToString());
        Assert.Equal("available", (string?)body["status"]);
        Assert.Equal(4, (int?)body["numNodes"]);
        Assert.Null(body["pendingChanges"]);
        Assert.All(Nodes(body).Values, n => Assert.Equal("available", n.Status));
        Assert.Equal(4, await CountAsync(db => db.CacheNodes.Where(n => n.CacheClusterId == "keep")));
    }

    [Fact]
    public async Task A_new_node_type_replaces_every_node_in_its_zone()
    {
        await CreateAvailableAsync("bigger", 2);
        var body = await AssertAcceptedAsync(await PatchAsync("/v1/cache-clusters/bigger", new { nodeType = "cache.medium" }));
        var nodes = Nodes(body);
        Assert.Equal(("az-a", "deleting"), nodes["bigger-0001"]);
        Assert.Equal(("az-b", "deleting"), nodes["bigger-0002"]);
        Assert.Equal(("az-a", "creating"), nodes["bigger-0003"]);
        Assert.Equal(("az-b", "creating"), nodes["bigger-0004"]);
        Assert.Equal("cache.medium", (string?)body["pendingChanges"]!["nodeType"]);
    }
}
