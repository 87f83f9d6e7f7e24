using System.Net;
using ControlPlane.Api.Runtime;
using ControlPlane.Api.Tests.Infrastructure;
using StackExchange.Redis;

namespace ControlPlane.Api.Tests.Reconciliation;

public sealed class WarmPoolTests(PostgresFixture postgres) : ReconcilerTest(postgres)
{
    protected override IReadOnlyDictionary<string, string?> ExtraSettings => new Dictionary<string, string?>
    {
        ["ControlPlane:Reconciler:WarmPoolSize"] = "3",
    };

    private async Task<int> IdlePoolNodesAsync()
    {
        var all = await Task.WhenAll(Engines.Values.Select(OurContainersAsync));
        var taken = await CountAsync(db => db.RedisNodes.Where(n => n.PoolId != null));
        return all.Sum(c => c.Count(x => x.Labels.TryGetValue(Labels.Kind, out var kind) && kind == "pool" && x.State == "running")) - taken;
    }

    [Fact]
    public async Task A_new_cluster_takes_pre_started_nodes_and_the_pool_is_topped_up_again()
    {
        await WaitUntilAsync(async () => await IdlePoolNodesAsync() == 9, TimeSpan.FromSeconds(30), () => "the pool never filled to 3 nodes per zone");

        await AssertAcceptedAsync(await PostAsync("/v1/replication-groups", new { id = "pooled", clusterMode = "enabled", numShards = 3, replicasPerShard = 2, nodeType = "cache.micro" }));
        var group = await WaitForStatusAsync("/v1/replication-groups/pooled", "available");
        Assert.Equal(9, await CountAsync(db => db.RedisNodes.Where(n => n.ReplicationGroupId == "pooled" && n.PoolId != null)));

        // The taken containers got the node type's limits: 128 MiB and maxmemory at three quarters of it.
        var node = group["shards"]![0]!["nodes"]![0]!;
        await using (var direct = await AdminAsync(node["endpoint"]!))
        {
            var maxmemory = (await direct.GetServers()[0].ConfigGetAsync("maxmemory")).Single().Value;
            Assert.Equal($"{128L * 1024 * 1024 * 3 / 4}", maxmemory);
        }
        await using (var cluster = await ConnectionMultiplexer.ConnectAsync(new ConfigurationOptions { EndPoints = { RedisCreateTests.Endpoint(group["configurationEndpoint"]!) } }))
            foreach (var i in Enumerable.Range(0, 100))
                await cluster.GetDatabase().StringSetAsync($"pooled:{i}", i);

        await WaitUntilAsync(async () => await IdlePoolNodesAsync() == 9, TimeSpan.FromSeconds(30), () => "the pool was not topped up again");

        await AssertAcceptedAsync(await Client.DeleteAsync("/v1/replication-groups/pooled"));
        await WaitUntilAsync(async () => (await Client.GetAsync("/v1/replication-groups/pooled")).StatusCode == HttpStatusCode.NotFound,
            TimeSpan.FromSeconds(30), () => "the pooled group was never deleted");
        var left = (await Task.WhenAll(Engines.Values.Select(OurContainersAsync))).Sum(c => c.Count);
        Assert.Equal(9, left); // only the idle pool remains
    }
}
