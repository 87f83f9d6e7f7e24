using System.Net;
using ControlPlane.Api.Tests.Infrastructure;
using Docker.DotNet.Models;

namespace ControlPlane.Api.Tests.Reconciliation;

public sealed class HealthAndExpiryTests(PostgresFixture postgres) : ReconcilerTest(postgres)
{
    [Fact]
    public async Task A_killed_node_is_reported_failed_with_an_event()
    {
        await AssertAcceptedAsync(await PostAsync("/v1/replication-groups", new { id = "health", replicasPerShard = 1 }));
        var group = await WaitForStatusAsync("/v1/replication-groups/health", "available");
        var replica = group["shards"]![0]!["nodes"]!.AsArray().Single(n => (string?)n!["role"] == "replica")!;
        var zone = (string)replica["availabilityZone"]!;
        using var docker = Docker(Engines[zone]);
        await docker.Containers.KillContainerAsync($"{Instance}-{replica["id"]}", new ContainerKillParameters { Signal = "SIGKILL" });

        await WaitUntilAsync(async () =>
        {
            var now = await BodyAsync(await Client.GetAsync("/v1/replication-groups/health"));
            return now["shards"]![0]!["nodes"]!.AsArray().Any(n => (string?)n!["id"] == (string?)replica["id"] && (string?)n!["status"] == "failed");
        }, TimeSpan.FromSeconds(15), () => $"the killed node was never reported failed: {EventsText()}");
        var events = (await BodyAsync(await Client.GetAsync("/v1/events?sourceId=health")))["items"]!.AsArray();
        Assert.Contains(events, e => (string?)e!["message"] == $"Cache node {replica["id"]} failed");
    }

    [Fact]
    public async Task A_hung_node_is_reported_failed_by_the_probes()
    {
        await AssertAcceptedAsync(await PostAsync("/v1/cache-clusters", new { id = "hung", engine = "memcached", numNodes = 2 }));
        var cluster = await WaitForStatusAsync("/v1/cache-clusters/hung", "available");
        var node = cluster["nodes"]![1]!;
        using var docker = Docker(Engines[(string)node["availabilityZone"]!]);
        // Paused: the container is still running as far as Docker is concerned, but the engine answers nothing.
        await docker.Containers.PauseContainerAsync($"{Instance}-{node["id"]}");
        await WaitUntilAsync(async () =>
        {
            var now = await BodyAsync(await Client.GetAsync("/v1/cache-clusters/hung"));
            return (string?)now["nodes"]![1]!["status"] == "failed";
        }, TimeSpan.FromSeconds(20), () => $"the paused node was never reported failed: {EventsText()}");
        await docker.Containers.UnpauseContainerAsync($"{Instance}-{node["id"]}");
        await WaitUntilAsync(async () =>
        {
            var now = await BodyAsync(await Client.GetAsync("/v1/cache-clusters/hung"));
            return (string?)now["nodes"]![1]!["status"] == "available";
        }, TimeSpan.FromSeconds(20), () => $"the node that answers again was never reported available: {Client.GetStringAsync("/v1/cache-clusters/hung").Result} {EventsText()}");
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
