using System.Text.Json.Nodes;
using ControlPlane.Api.Reconciliation;
using ControlPlane.Api.Runtime;
using ControlPlane.Api.Tests.Infrastructure;
using ControlPlane.Domain;
using Microsoft.Extensions.DependencyInjection;

namespace ControlPlane.Api.Tests.World;

/// <summary>
/// Several control planes share the groups, one convergence of a group at a time (its advisory lock).
/// One of them may converge a group from a listing taken before another one rebooted a node of it. Here
/// the passes are driven by hand, so that the stale listing is the one the test took.
/// </summary>
public sealed class StaleListingTests(PostgresFixture postgres) : MemoryWorldTest(postgres)
{
    protected override IReadOnlyDictionary<string, string?> Settings =>
        new Dictionary<string, string?>(base.Settings) { ["ControlPlane:Reconciler:Enabled"] = "false" };

    [Fact]
    public async Task A_node_rebooted_after_the_listing_is_not_told_pending_reboot_from_its_old_container()
    {
        const string id = "stale-listing";
        await PostAsync("/v1/parameter-groups", new { name = $"{id}-params", family = "redis7" });
        await AssertOkAsync(await PatchAsync($"/v1/parameter-groups/{id}-params", new { parameters = new Dictionary<string, string> { ["cluster-enabled"] = "yes" } }));
        // Cluster mode: the in-memory world has no endpoint proxy for a group without it.
        await AssertAcceptedAsync(await PostAsync("/v1/replication-groups",
            new { id, clusterMode = "enabled", numShards = 1, replicasPerShard = 1, parameterGroupName = $"{id}-params" }));
        var group = await PassesUntilAsync(id, g => (string?)g["status"] == "available" && Statuses(g).All(s => s == "in-sync"));
        // The replica is rebooted (the in-memory world does not model a primary's reboot, which keeps its data).
        var replica = Nodes(group).Single(n => (string?)n["role"] == "replica");
        var (node, zone) = ((string)replica["id"]!, (string)replica["availabilityZone"]!);
        var name = $"{Instance}-{node}";

        await AssertOkAsync(await PatchAsync($"/v1/parameter-groups/{id}-params", new { parameters = new Dictionary<string, string> { ["databases"] = "32" } }));
        await PassesUntilAsync(id, g => Statuses(g).All(s => s == "pending-reboot"));
        // What another control plane listed before the reboot: the node's container started with 16 databases.
        var stale = new ContainerView(await Factory.Services.GetRequiredService<ZoneRegistry>().ListAsync(CancellationToken.None));
        var old = stale.Named(zone, name)!.Id;

        await AssertAcceptedAsync(await PostAsync($"/v1/replication-groups/{id}/reboot", new { nodeIds = new[] { node } }));
        await PassesUntilAsync(id, g => (string?)g["status"] == "available" && ParameterStatus(g, node) == "in-sync");
        // A pass whose listing shows the new container: this process forgets what it rebooted, as the other never knew it.
        await PassesUntilAsync(id, _ => true);
        Assert.NotEqual(old, World.Containers().Single(c => c.Container.Name == name).Container.Id);

        var converger = Factory.Services.GetRequiredService<Converger>();
        await converger.ConvergeAsync(new Target(Catalog.Redis, id), stale, CancellationToken.None);
        group = await BodyAsync(await Client.GetAsync($"/v1/replication-groups/{id}"));
        Assert.Equal("in-sync", ParameterStatus(group, node));
    }

    [Fact]
    public async Task A_node_renewed_after_the_listing_is_not_refreshed_again_from_its_old_container()
    {
        const string id = "stale-spec";
        await AssertAcceptedAsync(await PostAsync("/v1/replication-groups", new { id, clusterMode = "enabled", numShards = 1, replicasPerShard = 1 }));
        var group = await PassesUntilAsync(id, g => (string?)g["status"] == "available");
        var replica = Nodes(group).Single(n => (string?)n["role"] == "replica");
        var (node, name) = ((string)replica["id"]!, ContainerName(replica));
        // What another control plane listed just before this one gave the node a container with a new command
        // line (a reboot after an upgrade of the control plane): the old container's spec hash.
        var listing = await Factory.Services.GetRequiredService<ZoneRegistry>().ListAsync(CancellationToken.None);
        var stale = new ContainerView(listing.ToDictionary(z => z.Key, z => (IReadOnlyList<ContainerInfo>?)z.Value?.Select(c => c.Name != name ? c
            : c with { Labels = new Dictionary<string, string>(c.Labels) { [Labels.SpecHash] = "an-older-command-line" } }).ToList()));

        var converger = Factory.Services.GetRequiredService<Converger>();
        await converger.ConvergeAsync(new Target(Catalog.Redis, id), stale, CancellationToken.None);
        group = await BodyAsync(await Client.GetAsync($"/v1/replication-groups/{id}"));
        Assert.Equal("available", (string?)group["status"]);
        Assert.Contains(node, Nodes(group).Select(n => (string?)n["id"]));
        Assert.DoesNotContain("outdated configuration", EventsText(), StringComparison.Ordinal);
    }

    private static IEnumerable<string?> Statuses(JsonObject group) => Nodes(group).Select(n => (string?)n["parameterGroupStatus"]);

    private static string? ParameterStatus(JsonObject group, string node) =>
        (string?)Nodes(group).Single(n => (string?)n["id"] == node)["parameterGroupStatus"];

    /// <summary>Full passes, each with its convergences to their end, until the group reads as wanted.</summary>
    private async Task<JsonObject> PassesUntilAsync(string id, Func<JsonObject, bool> done)
    {
        var reconciler = Factory.Services.GetRequiredService<Reconciler>();
        JsonObject? group = null;
        for (var pass = 0; pass < 200; pass++)
        {
            await reconciler.TurnAsync(woken: true, new HashSet<string>(), CancellationToken.None);
            await reconciler.ConvergencesAsync();
            group = await BodyAsync(await Client.GetAsync($"/v1/replication-groups/{id}"));
            if (done(group))
                return group;
            await Task.Delay(50);
        }
        Assert.Fail($"{id} never came to the state wanted: {group?.ToJsonString()}\n{EventsText()}");
        return group!;
    }
}
