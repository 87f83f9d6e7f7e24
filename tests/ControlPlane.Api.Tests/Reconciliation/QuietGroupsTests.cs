using System.Globalization;
using System.Text.Json.Nodes;
using ControlPlane.Api.Tests.Infrastructure;
using StackExchange.Redis;

namespace ControlPlane.Api.Tests.Reconciliation;

/// <summary>
/// Quiet is judged per group: a group with nothing to do is watched with heartbeats only, even while
/// another group keeps the reconciler busy, and a hung node of the quiet group is still found.
/// </summary>
public sealed class QuietGroupsTests(PostgresFixture postgres) : ReconcilerTest(postgres)
{
    protected override IReadOnlyDictionary<string, string?> ExtraSettings => new Dictionary<string, string?>
    {
        // No timed full pass during the test: only wake-ups (API writes, container deaths) observe every group.
        ["ControlPlane:Reconciler:QuietPassInterval"] = "01:00:00",
        // The metrics collector reads INFO too; off, every INFO a node counts is the reconciler's.
        ["ControlPlane:Metrics:CollectorEnabled"] = "false",
    };

    [Fact]
    public async Task A_quiet_group_gets_heartbeats_only_while_another_group_is_held_and_its_hung_node_is_still_replaced()
    {
        await AssertAcceptedAsync(await PostAsync("/v1/replication-groups", new { id = "calm", replicasPerShard = 1 }));
        await AssertAcceptedAsync(await PostAsync("/v1/replication-groups", new { id = "held", replicasPerShard = 0 }));
        var calm = await WaitForStatusAsync("/v1/replication-groups/calm", "available");
        var held = await WaitForStatusAsync("/v1/replication-groups/held", "available");

        // Every node of "held" stops answering while its container runs: the planner holds fire, and
        // the group is looked at again by every pass for as long as it lasts.
        var heldNode = Nodes(held).Single();
        using (var docker = Docker(Engines[(string)heldNode["availabilityZone"]!]))
            await docker.Containers.PauseContainerAsync($"{Instance}-{heldNode["id"]}");
        await WaitUntilAsync(() => Task.FromResult(EventsText().Contains("stopped answering at once", StringComparison.Ordinal)),
            TimeSpan.FromSeconds(30), () => $"the held group was never held: {EventsText()}");

        var primary = Nodes(calm).Single(n => (string?)n["role"] == "primary");
        await using var admin = await AdminAsync(primary["endpoint"]!);
        var server = admin.GetServers()[0];
        var before = await CallsAsync(server);
        // Eight passes at the tests' 500 ms interval: each would observe "calm" in full if one busy group made everyone busy.
        await Task.Delay(TimeSpan.FromSeconds(4));
        var after = await CallsAsync(server);
        // One INFO is this test's own reading of the counters.
        Assert.True(after.Info - before.Info - 1 <= 1, $"the quiet group was observed in full {after.Info - before.Info - 1} times in 4 s while another group was held");
        Assert.True(after.Ping - before.Ping >= 4, $"the quiet group's primary got {after.Ping - before.Ping} heartbeats in 4 s");

        // Heartbeats are enough to find a hung node: the replica of "calm" is paused, failed and replaced.
        var replica = Nodes(calm).Single(n => (string?)n["role"] == "replica");
        using (var docker = Docker(Engines[(string)replica["availabilityZone"]!]))
            await docker.Containers.PauseContainerAsync($"{Instance}-{replica["id"]}");
        await WaitUntilAsync(async () =>
        {
            var now = await BodyAsync(await Client.GetAsync("/v1/replication-groups/calm"));
            return Nodes(now).Count() == 2 && Nodes(now).All(n => (string?)n["status"] == "available" && (string?)n["id"] != (string?)replica["id"]);
        }, TimeSpan.FromSeconds(45), () => $"the hung replica of the quiet group was never replaced: {EventsText()}");
    }

    /// <summary>How often the node ran INFO (the full observation) and PING (the heartbeat) so far.</summary>
    private static async Task<(long Info, long Ping)> CallsAsync(IServer server)
    {
        var stats = (await server.InfoAsync("commandstats")).SelectMany(g => g).ToDictionary(p => p.Key, p => p.Value);
        return (Calls(stats, "cmdstat_info"), Calls(stats, "cmdstat_ping"));
    }

    private static long Calls(IReadOnlyDictionary<string, string> stats, string command) =>
        stats.TryGetValue(command, out var value)
            ? long.Parse(value.Split(',')[0]["calls=".Length..], CultureInfo.InvariantCulture)
            : 0;

    private static IEnumerable<JsonNode> Nodes(JsonObject group) =>
        group["shards"]!.AsArray().SelectMany(s => s!["nodes"]!.AsArray()).Select(n => n!);
}
