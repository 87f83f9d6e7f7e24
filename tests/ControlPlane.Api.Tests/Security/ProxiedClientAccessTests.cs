using ControlPlane.Api.Tests.Infrastructure;
using ControlPlane.Api.Tests.Reconciliation;
using StackExchange.Redis;

namespace ControlPlane.Api.Tests.Security;

/// <summary>
/// The endpoint proxy (HAProxy, the mode of a control plane that is not root) in front of nodes whose
/// default user needs a token: its health checks log in as the control plane's health user, so the
/// endpoints serve, follow a failover and keep doing so through a rotation.
/// </summary>
public sealed class ProxiedClientAccessTests(PostgresFixture postgres) : ReconcilerTest(postgres)
{
    private const string OldToken = "proxied-token-0123456789";
    private const string NewToken = "proxied-token-9876543210";

    protected override IReadOnlyDictionary<string, string?> ExtraSettings => new Dictionary<string, string?>
    {
        ["ControlPlane:Endpoints:Mode"] = "proxy",
    };

    [Fact]
    public async Task The_proxy_serves_a_token_group_through_a_rotation_and_a_failover()
    {
        await AssertAcceptedAsync(await PostAsync("/v1/replication-groups", new { id = "proxied", replicasPerShard = 1, authToken = OldToken }));
        var group = await WaitForStatusAsync("/v1/replication-groups/proxied", "available");
        await using (var primary = await Resp.ConnectAsync(group["primaryEndpoint"]!))
        {
            Assert.StartsWith("-NOAUTH", await primary.SendAsync("SET", "k", "v"));
            Assert.Equal("+OK", await primary.SendAsync("AUTH", OldToken));
            Assert.Equal("+OK", await primary.SendAsync("SET", "k", "v"));
        }
        await WaitUntilAsync(async () =>
        {
            await using var reader = await Resp.ConnectAsync(group["readerEndpoint"]!);
            return await reader.SendAsync("AUTH", OldToken) == "+OK" && await reader.SendAsync("GET", "k") == "v";
        }, TimeSpan.FromSeconds(10), () => "the reader endpoint never served the replica's copy");

        // Each token change makes the group modifying until every node has it.
        await AssertAcceptedAsync(await PatchAsync("/v1/replication-groups/proxied", new { authToken = NewToken, authTokenUpdateStrategy = "rotate" }));
        await WaitForStatusAsync("/v1/replication-groups/proxied", "available");
        await AssertAcceptedAsync(await PatchAsync("/v1/replication-groups/proxied", new { authToken = NewToken, authTokenUpdateStrategy = "set" }));
        await WaitForStatusAsync("/v1/replication-groups/proxied", "available");
        await using var client = await ConnectionMultiplexer.ConnectAsync(new ConfigurationOptions
        {
            EndPoints = { RedisCreateTests.Endpoint(group["primaryEndpoint"]!) }, Password = NewToken, ConnectTimeout = 2000, AbortOnConnectFail = false,
        });
        await WaitUntilAsync(async () =>
        {
            try
            {
                return await client.GetDatabase().StringSetAsync("after-set", "yes");
            }
            catch (RedisException)
            {
                return false;
            }
        }, TimeSpan.FromSeconds(15), () => "the primary endpoint never took the new token");

        var before = group["shards"]![0]!["nodes"]!.AsArray().Single(n => (string?)n!["role"] == "primary")!;
        await AssertAcceptedAsync(await PostAsync("/v1/replication-groups/proxied/test-failover", new { shardId = "0001" }));
        await WaitUntilAsync(async () =>
        {
            var now = await BodyAsync(await Client.GetAsync("/v1/replication-groups/proxied"));
            return (string?)now["status"] == "available" && now["shards"]![0]!["nodes"]!.AsArray()
                .Any(n => (string?)n!["role"] == "primary" && (string?)n["id"] != (string?)before["id"]);
        }, TimeSpan.FromSeconds(60), EventsText);
        // The proxy's checks (logged in as cp-health) found the new primary: writes through the endpoint work again.
        await WaitUntilAsync(async () =>
        {
            await using var primary = await Resp.ConnectAsync(group["primaryEndpoint"]!);
            return await primary.SendAsync("AUTH", NewToken) == "+OK" && await primary.SendAsync("SET", "after-failover", "yes") == "+OK"
                && await primary.SendAsync("GET", "after-set") == "yes";
        }, TimeSpan.FromSeconds(15), () => "the primary endpoint never followed the failover");
    }
}
