using System.Text.Json.Nodes;
using ControlPlane.Api.Tests.Infrastructure;
using ControlPlane.Api.Tests.Reconciliation;

namespace ControlPlane.Api.Tests.Chaos;

/// <summary>
/// A control plane that restarts knows nothing of its nodes: that must never look like their death.
/// Ten groups in both modes, with replicas and data, through twenty SIGKILLs at seeded moments
/// (some in the middle of start-up, some after the first probes): no node is failed, none replaced,
/// not a key lost.
/// </summary>
public sealed class RestartTests(PostgresFixture postgres) : ChaosTest(postgres)
{
    private const int Seed = 20261130;

    [Fact]
    public async Task Twenty_restarts_with_ten_groups_fail_nothing_over_and_lose_no_key()
    {
        var plane = Start();
        var ids = Enumerable.Range(0, 5).Select(i => $"cmd{i}").Concat(Enumerable.Range(0, 5).Select(i => $"cme{i}")).ToList();
        foreach (var id in ids)
            await AssertAcceptedAsync(await PostAsync("/v1/replication-groups", id.StartsWith("cmd", StringComparison.Ordinal)
                ? new { id, replicasPerShard = 1 }
                : (object)new { id, clusterMode = "enabled", numShards = 2, replicasPerShard = 1 }));
        var before = new Dictionary<string, (IReadOnlyList<string> Nodes, List<string> Keys)>();
        foreach (var id in ids)
        {
            var group = await WaitForStatusAsync($"/v1/replication-groups/{id}", "available", TimeSpan.FromMinutes(3));
            await using var client = await Scaling.ConnectAsync(group);
            before[id] = (NodeIds(group), await Scaling.LoadAsync(client, 500, id));
        }

        var random = new Random(Seed);
        for (var restart = 0; restart < 20; restart++)
        {
            // From 0.2 s (still starting) to 3 s (past the failure window with several probes of every node).
            await Task.Delay(TimeSpan.FromMilliseconds(200 + random.Next(2800)));
            plane.Kill();
            plane = Start();
        }

        // The last one runs on: every group stays available with the nodes it had and all its keys.
        await Task.Delay(TimeSpan.FromSeconds(5)); // a fault has this long to show; nothing to wait for
        foreach (var id in ids)
        {
            var group = await GroupAsync(id);
            Assert.Equal("available", (string?)group["status"]);
            Assert.Equal(before[id].Nodes, NodeIds(group));
            Assert.All(group["shards"]!.AsArray().SelectMany(s => s!["nodes"]!.AsArray()), n => Assert.Equal("available", (string?)n!["status"]));
            var events = await MessagesAsync(id);
            Assert.DoesNotContain(events, e => e.Contains("failed", StringComparison.OrdinalIgnoreCase) || e.StartsWith("Failover", StringComparison.Ordinal)
                || e.StartsWith("Recovering", StringComparison.Ordinal));
            await using var client = await Scaling.ConnectAsync(group);
            await Scaling.AssertAllPresentAsync(client, before[id].Keys);
        }
        await AssertCleanAsync();
    }
}
