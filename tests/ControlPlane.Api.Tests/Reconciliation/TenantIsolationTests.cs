using System.Text.Json.Nodes;
using ControlPlane.Api.Runtime;
using ControlPlane.Api.Tests.Infrastructure;
using StackExchange.Redis;

namespace ControlPlane.Api.Tests.Reconciliation;

/// <summary>Two tenants with the same ids, all the way down: containers, ports, data and snapshot files stay apart.</summary>
public sealed class TenantIsolationTests(PostgresFixture postgres) : ReconcilerTest(postgres)
{
    private static readonly string[] Tenants = ["default", "acme"];

    [Fact]
    public async Task Two_tenants_run_groups_and_snapshots_with_the_same_ids_side_by_side()
    {
        foreach (var tenant in Tenants)
            await AssertAcceptedAsync(await PostAsync("/v1/replication-groups", new { id = "orders", replicasPerShard = 1, tenant }));
        var groups = new Dictionary<string, JsonObject>();
        foreach (var tenant in Tenants)
            groups[tenant] = await WaitForStatusAsync($"/v1/replication-groups/orders?tenant={tenant}", "available");

        foreach (var tenant in Tenants)
        {
            Assert.Equal(["orders-0001-001", "orders-0001-002"], NodeIds(groups[tenant]));
            await using var client = await ConnectionMultiplexer.ConnectAsync(new ConfigurationOptions { EndPoints = { RedisCreateTests.Endpoint(groups[tenant]["primaryEndpoint"]!) } });
            await client.GetDatabase().StringSetAsync("owner", tenant);
        }
        foreach (var tenant in Tenants)
        {
            await using var client = await ConnectionMultiplexer.ConnectAsync(new ConfigurationOptions { EndPoints = { RedisCreateTests.Endpoint(groups[tenant]["primaryEndpoint"]!) } });
            Assert.Equal(tenant, (string?)await client.GetDatabase().StringGetAsync("owner"));
        }
        var nodes = Engines.Values.SelectMany(e => OurContainersAsync(e).GetAwaiter().GetResult()).Where(c => c.Labels.ContainsKey(Labels.Node)).Select(c => c.Labels[Labels.Node]).Order().ToList();
        Assert.Equal(["acme--orders-0001-001", "acme--orders-0001-002", "orders-0001-001", "orders-0001-002"], nodes);

        foreach (var tenant in Tenants)
            await AssertAcceptedAsync(await PostAsync($"/v1/snapshots?tenant={tenant}", new { name = "nightly", replicationGroupId = "orders" }));
        foreach (var tenant in Tenants)
            await WaitForStatusAsync($"/v1/snapshots/nightly?tenant={tenant}", "available", TimeSpan.FromMinutes(2));
        Assert.True(File.Exists(Path.Combine(Factory.SnapshotDir, "nightly", "0001.rdb")));
        Assert.True(File.Exists(Path.Combine(Factory.SnapshotDir, "acme--nightly", "0001.rdb")));

        // Deleting one tenant's group leaves the other's running.
        await AssertAcceptedAsync(await Client.DeleteAsync("/v1/replication-groups/orders?tenant=acme"));
        await WaitUntilAsync(async () => (await Client.GetAsync("/v1/replication-groups/orders?tenant=acme")).StatusCode == System.Net.HttpStatusCode.NotFound,
            TimeSpan.FromSeconds(60), () => "acme's group was never deleted");
        await WaitForStatusAsync("/v1/replication-groups/orders", "available");
        var left = Engines.Values.SelectMany(e => OurContainersAsync(e).GetAwaiter().GetResult()).Where(c => c.Labels.ContainsKey(Labels.Node)).Select(c => c.Labels[Labels.Node]).Order().ToList();
        Assert.Equal(["orders-0001-001", "orders-0001-002"], left);
    }

    private static List<string> NodeIds(JsonObject group) =>
        group["shards"]!.AsArray().SelectMany(s => s!["nodes"]!.AsArray()).Select(n => (string)n!["id"]!).Order().ToList();
}
