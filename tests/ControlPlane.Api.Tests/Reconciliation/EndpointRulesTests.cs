using System.Net;
using System.Text.Json.Nodes;
using ControlPlane.Api.Runtime;
using ControlPlane.Api.Tests.Infrastructure;
using StackExchange.Redis;

namespace ControlPlane.Api.Tests.Reconciliation;

/// <summary>The kernel endpoints kept by the reconciler: created with the group, rebuilt exactly on a restart, removed on delete.</summary>
public sealed class EndpointRulesTests(PostgresFixture postgres) : ReconcilerTest(postgres)
{
    [Fact]
    public async Task A_restart_rebuilds_the_rules_from_the_database_exactly_and_a_delete_removes_them()
    {
        await AssertAcceptedAsync(await PostAsync("/v1/replication-groups", new { id = "rules", replicasPerShard = 1 }));
        var group = await WaitForStatusAsync("/v1/replication-groups/rules", "available");
        var expected = Expected(group);
        Assert.Equal(expected, (await KernelTableAsync()).Groups["rules"].Canonical());
        await using (var viaEndpoint = await ConnectionMultiplexer.ConnectAsync(new ConfigurationOptions { EndPoints = { RedisCreateTests.Endpoint(group["primaryEndpoint"]!) } }))
            await viaEndpoint.GetDatabase().StringSetAsync("kept", "yes");

        // The control plane stops; meanwhile the kernel's copy goes wrong: the group's rules lost, a stranger's added.
        await Factory.DisposeAsync();
        var table = NftRuleset.TableName(Instance);
        var stranger = new GroupForwarding("stranger", IPAddress.Loopback, [new PortForward(PortRangeEnd, [new IPEndPoint(IPAddress.Loopback, 1)])]);
        await new Netfilter().ApplyAsync($"flush chain ip {table} g-rules\n" + NftRuleset.Apply(table, stranger, []), CancellationToken.None);
        Assert.Equal(2, (await KernelTableAsync()).Groups.Count);
        Factory = new ApiFactory(ConnectionString, Settings, fakeClock: false);
        Client = Factory.CreateClient();

        // The first pass makes the table what the database says: the group's forwarding, once, and nothing else.
        await WaitUntilAsync(async () => (await KernelTableAsync()).Groups.Keys.SequenceEqual(["rules"])
                && (await KernelTableAsync()).Groups["rules"].Canonical() == expected,
            TimeSpan.FromSeconds(30), () => $"the table was not rebuilt: {string.Join("; ", KernelTableAsync().Result.Groups.Values.Select(g => $"{g.GroupId} {g.Canonical()}"))}");
        Assert.Equal(2, Assert.Single((await KernelTableAsync()).Keys).Value.Count);
        await using (var viaEndpoint = await ConnectionMultiplexer.ConnectAsync(new ConfigurationOptions { EndPoints = { RedisCreateTests.Endpoint(group["primaryEndpoint"]!) } }))
            Assert.Equal("yes", (string?)await viaEndpoint.GetDatabase().StringGetAsync("kept"));

        Assert.Equal(HttpStatusCode.Accepted, (await Client.DeleteAsync("/v1/replication-groups/rules")).StatusCode);
        await WaitUntilAsync(async () => (await Client.GetAsync("/v1/replication-groups/rules")).StatusCode == HttpStatusCode.NotFound,
            TimeSpan.FromSeconds(60), () => "the group was not deleted");
        var after = await KernelTableAsync();
        Assert.Empty(after.Groups);
        Assert.Empty(after.Keys);
    }

    /// <summary>The primary port to the primary node, the reader port to the replicas (the primary without any).</summary>
    private static string Expected(JsonObject group)
    {
        var nodes = group["shards"]![0]!["nodes"]!.AsArray();
        IPEndPoint Of(JsonNode? node) => (IPEndPoint)RedisCreateTests.Endpoint(node!["endpoint"]!);
        var primary = nodes.Where(n => (string?)n!["role"] == "primary").Select(Of).ToList();
        var replicas = nodes.Where(n => (string?)n!["role"] == "replica").Select(Of).ToList();
        return new GroupForwarding("rules", IPAddress.Parse((string)group["primaryEndpoint"]!["host"]!),
        [
            new PortForward((int)group["primaryEndpoint"]!["port"]!, primary),
            new PortForward((int)group["readerEndpoint"]!["port"]!, replicas.Count > 0 ? replicas : primary),
        ]).Canonical();
    }
}
