using System.Net;
using ControlPlane.Api.Tests.Infrastructure;

namespace ControlPlane.Api.Tests.World;

/// <summary>
/// A delete's final snapshot on the in-memory world (BGSAVE writes the node's keys into its dump
/// file, a node starts with the keys of the dump file it finds): taken before anything is removed
/// and restored with its keys; when it cannot be taken, the group is not deleted.
/// </summary>
public sealed class MemoryWorldSnapshotTests(PostgresFixture postgres) : MemoryWorldTest(postgres)
{
    [Fact]
    public async Task A_final_snapshot_is_taken_before_the_delete_and_a_new_group_restores_its_keys()
    {
        await AssertAcceptedAsync(await PostAsync("/v1/replication-groups", new { id = "mem-leaving", clusterMode = "enabled", numShards = 2, replicasPerShard = 1 }));
        var group = await WaitForStatusAsync("/v1/replication-groups/mem-leaving", "available");
        foreach (var shard in new[] { "0001", "0002" })
        {
            var primary = PrimaryOf(group, shard);
            World.Write(Address(primary).Host, Address(primary).Port, shard == "0001" ? 300 : 500);
        }
        // A snapshot may be taken from a replica: a linked replica saves its primary's keys (RedisProcess.Save).

        Assert.Equal(HttpStatusCode.Accepted, (await Client.DeleteAsync("/v1/replication-groups/mem-leaving?finalSnapshotName=mem-final")).StatusCode);
        await WaitUntilAsync(async () => (await Client.GetAsync("/v1/replication-groups/mem-leaving")).StatusCode == HttpStatusCode.NotFound,
            TimeSpan.FromSeconds(60), () => $"never deleted: {EventsText()}");
        var snapshot = await BodyAsync(await Client.GetAsync("/v1/snapshots/mem-final"));
        Assert.Equal(("available", 2), ((string?)snapshot["status"], snapshot["files"]!.AsArray().Count));
        Assert.DoesNotContain(World.Containers(), c => c.Container.Labels.GetValueOrDefault("controlplane.group") == "mem-leaving");

        await AssertAcceptedAsync(await PostAsync("/v1/replication-groups", new { id = "mem-back", clusterMode = "enabled", numShards = 2, replicasPerShard = 1, restoreFromSnapshot = "mem-final" }));
        var restored = await WaitForStatusAsync("/v1/replication-groups/mem-back", "available");
        var keys = new[] { "0001", "0002" }.Select(s => World.Redis(Address(PrimaryOf(restored, s)).Host, Address(PrimaryOf(restored, s)).Port)!.Keys).ToList();
        Assert.Equal([300L, 500L], keys);
    }

    [Fact]
    public async Task A_final_snapshot_that_cannot_be_taken_leaves_the_group_available()
    {
        await AssertAcceptedAsync(await PostAsync("/v1/replication-groups", new { id = "mem-stays", clusterMode = "enabled", numShards = 2, replicasPerShard = 1 }));
        var group = await WaitForStatusAsync("/v1/replication-groups/mem-stays", "available");
        // Every node of one shard hangs: nothing can save that shard's keys.
        foreach (var node in group["shards"]![1]!["nodes"]!.AsArray())
            World.Hang(ContainerName(node!));

        Assert.Equal(HttpStatusCode.Accepted, (await Client.DeleteAsync("/v1/replication-groups/mem-stays?finalSnapshotName=mem-never")).StatusCode);
        await WaitUntilAsync(async () => (await MessagesAsync("mem-stays")).Any(m => m.Contains("Final snapshot mem-never failed", StringComparison.Ordinal)),
            TimeSpan.FromSeconds(60), () => $"the failed final snapshot was never told: {EventsText()}");

        var after = await BodyAsync(await Client.GetAsync("/v1/replication-groups/mem-stays"));
        Assert.NotEqual("deleting", (string?)after["status"]);
        Assert.Contains(World.Containers(), c => c.Container.Labels.GetValueOrDefault("controlplane.group") == "mem-stays");
        Assert.Equal("Final snapshot mem-never failed; replication group mem-stays was not deleted",
            (await MessagesAsync("mem-stays")).First(m => m.StartsWith("Final snapshot", StringComparison.Ordinal)));
    }
}
