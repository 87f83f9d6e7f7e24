using ControlPlane.Api.Reconciliation;
using ControlPlane.Api.Runtime;
using ControlPlane.Api.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace ControlPlane.Api.Tests.Chaos;

/// <summary>
/// The cause of "a whole group failed at once right after it became available": a pass's listing
/// taken before the group's containers were started, used to converge it after they were. Here a
/// converge is handed exactly such a listing (every zone answers, none shows a container): the
/// second look at the containers must keep every node available and the data where it is.
/// </summary>
public sealed class StaleListingTests(PostgresFixture postgres) : ChaosTest(postgres)
{
    [Fact]
    public async Task A_listing_older_than_the_containers_fails_no_node()
    {
        var plane = Start();
        var group = await CreateAsync("stale", new { id = "stale", replicasPerShard = 1 });
        plane.Kill(); // nothing else converges it meanwhile

        var empty = Engines.Keys.ToDictionary(zone => zone, _ => (IReadOnlyList<ContainerInfo>?)[]);
        var converger = Factory.Services.GetRequiredService<Converger>();
        await converger.ConvergeAsync(new Target("redis", "stale"), new ContainerView(empty), CancellationToken.None);

        var after = await GroupAsync("stale");
        Assert.Equal("available", (string?)after["status"]);
        Assert.Equal(NodeIds(group), NodeIds(after));
        Assert.All(after["shards"]![0]!["nodes"]!.AsArray(), n => Assert.Equal("available", (string?)n!["status"]));
        Assert.DoesNotContain(await MessagesAsync("stale"), e => e.Contains("failed", StringComparison.OrdinalIgnoreCase));
    }
}
