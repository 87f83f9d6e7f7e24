using System.Net;
using ControlPlane.Api.Tests.Infrastructure;
using Docker.DotNet.Models;

namespace ControlPlane.Api.Tests.Reconciliation;

public sealed class HealthAndExpiryTests(PostgresFixture postgres) : ReconcilerTest(postgres)
{
    [Fact]
    public async Task A_hung_node_is_failed_by_the_probes_fenced_and_replaced()
    {
        await AssertAcceptedAsync(await PostAsync("/v1/cache-clusters", new { id = "hung", engine = "memcached", numNodes = 2 }));
        var cluster = await WaitForStatusAsync("/v1/cache-clusters/hung", "available");
        var node = cluster["nodes"]![1]!;
        var engine = Engines[(string)node["availabilityZone"]!];
        using var docker = Docker(engine);
        // Paused: the container is still running as far as Docker is concerned, but the engine answers nothing.
        await docker.Containers.PauseContainerAsync($"{Instance}-{node["id"]}");
        await WaitUntilAsync(async () =>
        {
            var now = await BodyAsync(await Client.GetAsync("/v1/cache-clusters/hung"));
            return now["nodes"]!.AsArray().All(n => (string?)n!["status"] == "available" && (string?)n["id"] != (string?)node["id"]);
        }, TimeSpan.FromSeconds(30), () => $"the paused node was never replaced: {EventsText()}");
        var events = (await BodyAsync(await Client.GetAsync("/v1/events?sourceId=hung")))["items"]!.AsArray().Select(e => (string)e!["message"]!).ToList();
        Assert.Contains($"Cache node {node["id"]} failed", events);
        Assert.Contains($"Recovering cache nodes {node["id"]}", events);
        Assert.Contains(events, e => e.StartsWith("Finished recovery for cache nodes hung-", StringComparison.Ordinal));
        Assert.DoesNotContain(await OurContainersAsync(engine), c => c.Names.Any(n => n.EndsWith((string)node["id"]!, StringComparison.Ordinal)));
    }

    [Fact]
    public async Task An_expired_group_is_deleted_as_if_asked()
    {
        var expiresAt = DateTimeOffset.UtcNow.AddSeconds(4);
        await AssertAcceptedAsync(await PostAsync("/v1/replication-groups", new { id = "ci-run", replicasPerShard = 0, expiresAt }));
        await AssertAcceptedAsync(await PostAsync("/v1/cache-clusters", new { id = "ci-cache", engine = "memcached", expiresAt }));
        await WaitUntilAsync(async () =>
                (await Client.GetAsync("/v1/replication-groups/ci-run")).StatusCode == HttpStatusCode.NotFound
                && (await Client.GetAsync("/v1/cache-clusters/ci-cache")).StatusCode == HttpStatusCode.NotFound,
            TimeSpan.FromSeconds(60), () => $"the expired resources are still there: {EventsText()}");
        Assert.Equal(0, (await Task.WhenAll(Engines.Values.Select(OurContainersAsync))).Sum(c => c.Count));
        var events = (await BodyAsync(await Client.GetAsync("/v1/events?sourceId=ci-run")))["items"]!.AsArray();
        Assert.Contains(events, e => ((string?)e!["message"])!.Contains("expired", StringComparison.Ordinal));
    }
}
