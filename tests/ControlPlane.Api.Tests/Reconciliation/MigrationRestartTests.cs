using System.Text.Json.Nodes;
using ControlPlane.Api.Tests.Chaos;
using ControlPlane.Api.Tests.Infrastructure;

namespace ControlPlane.Api.Tests.Reconciliation;

/// <summary>
/// The control plane killed (SIGKILL, no shutdown) in the middle of a slot migration under writes,
/// then started again: it finishes the stored plan, no key and no acknowledged write is lost, no
/// slot is left importing or migrating, and nothing is left over.
/// </summary>
public sealed class MigrationRestartTests(PostgresFixture postgres) : ChaosTest(postgres)
{
    [Fact]
    public async Task A_control_plane_killed_during_a_slot_migration_finishes_it_after_restart()
    {
        var first = Start();
        await AssertAcceptedAsync(await PostAsync("/v1/replication-groups", new { id = "resume", clusterMode = "enabled", numShards = 3, replicasPerShard = 0 }));
        var group = await WaitForStatusAsync("/v1/replication-groups/resume", "available");
        await using var client = await Scaling.ConnectAsync(group);
        var keys = await Scaling.LoadAsync(client, 100_000, "k");
        await using var writer = Scaling.ClusterWriter.Start(client);

        await AssertAcceptedAsync(await PatchAsync("/v1/replication-groups/resume", new { numShards = 5 }));
        JsonObject? last = null;
        await WaitUntilAsync(async () =>
        {
            last = await BodyAsync(await Client.GetAsync("/v1/replication-groups/resume"));
            return (double?)last["pendingChanges"]?["slotMigration"]?["progressPercentage"] > 0;
        }, TimeSpan.FromMinutes(2), () => $"the migration never started: {last?.ToJsonString()}\n{first.Output}\n{EventsText()}");
        first.Kill();
        last = await BodyAsync(await Client.GetAsync("/v1/replication-groups/resume"));
        Assert.Equal("modifying", (string?)last["status"]);
        Assert.True((double)last["pendingChanges"]!["slotMigration"]!["progressPercentage"]! < 100, last.ToJsonString());

        Start();
        group = await WaitForStatusAsync("/v1/replication-groups/resume", "available", TimeSpan.FromMinutes(3));
        Assert.Equal(5, group["shards"]!.AsArray().Count);
        Assert.True(Domain.SlotRanges.IsBalanced(group["shards"]!.AsArray().Select(s => (string)s!["slots"]!)), group.ToJsonString());
        await Scaling.AssertAllPresentAsync(client, keys);
        await Scaling.AssertAllPresentAsync(client, await writer.StopAsync());
        await Scaling.AssertNoSlotOpenAsync(group);
        Assert.Equal(0, await CountAsync(db => db.SlotMoves));
        await AssertCleanAsync();
    }
}
