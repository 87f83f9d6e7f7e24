using System.Net;
using System.Text.Json.Nodes;
using ControlPlane.Api.Runtime;
using ControlPlane.Api.Tests.Infrastructure;
using ControlPlane.Api.Tests.Reconciliation;
using Docker.DotNet.Models;
using StackExchange.Redis;

namespace ControlPlane.Api.Tests.Security;

/// <summary>
/// The endpoint proxy (HAProxy, the mode of a control plane that is not root) in front of TLS nodes
/// whose default user needs a token: clients' TLS passes through it to the nodes (the certificate a
/// client sees is the node's, checked against GET /v1/ca.pem), its health checks speak TLS and log in
/// as the control plane's health user, so the endpoints serve, keep doing so through a rotation and
/// follow a failover without losing an acknowledged write.
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
    public async Task The_proxy_carries_tls_end_to_end_for_a_token_group_through_a_rotation_and_a_failover_losing_no_acknowledged_write()
    {
        await AssertAcceptedAsync(await PostAsync("/v1/replication-groups", new { id = "proxied", replicasPerShard = 2, transitEncryption = true, authToken = OldToken }));
        var group = await WaitForStatusAsync("/v1/replication-groups/proxied", "available", TimeSpan.FromMinutes(2));
        var tls = await TlsClient.FetchAsync(Client);
        var primaryNode = Nodes(group).Single(n => (string?)n["role"] == "primary");
        await using (var primary = await Resp.ConnectAsync(group["primaryEndpoint"]!, tls))
        {
            Assert.StartsWith("-NOAUTH", await primary.SendAsync("SET", "k", "v"));
            Assert.Equal("+OK", await primary.SendAsync("AUTH", OldToken));
            Assert.Equal("+OK", await primary.SendAsync("SET", "k", "v"));
        }
        // HAProxy did not terminate the session: the certificate the client checked is the primary node's own.
        Assert.Contains($"CN={primaryNode["id"]}", tls.LastSeen!.Subject);
        // The reader endpoint reaches a replica (its certificate), which has the write.
        await WaitUntilAsync(async () =>
        {
            await using var reader = await Resp.ConnectAsync(group["readerEndpoint"]!, tls);
            return !tls.LastSeen!.Subject.Contains($"CN={primaryNode["id"]}", StringComparison.Ordinal)
                && await reader.SendAsync("AUTH", OldToken) == "+OK" && await reader.SendAsync("GET", "k") == "v";
        }, TimeSpan.FromSeconds(10), () => $"the reader endpoint never served a replica's copy (last: {tls.LastSeen?.Subject})");
        foreach (var endpoint in new[] { group["primaryEndpoint"]!, group["readerEndpoint"]! })
            Assert.Null(await TlsClient.PlainTextAsync((int)endpoint["port"]!, "PING\r\n", r => r.EndsWith("\r\n", StringComparison.Ordinal)));

        // Each token change makes the group modifying until every node has it.
        await AssertAcceptedAsync(await PatchAsync("/v1/replication-groups/proxied", new { authToken = NewToken, authTokenUpdateStrategy = "rotate" }));
        await WaitForStatusAsync("/v1/replication-groups/proxied", "available");
        await AssertAcceptedAsync(await PatchAsync("/v1/replication-groups/proxied", new { authToken = NewToken, authTokenUpdateStrategy = "set" }));
        await WaitForStatusAsync("/v1/replication-groups/proxied", "available");
        var endpointAddress = RedisCreateTests.Endpoint(group["primaryEndpoint"]!);
        await WaitUntilAsync(async () =>
        {
            try
            {
                await using var client = await ConnectionMultiplexer.ConnectAsync(WithToken(tls.Options(endpointAddress), NewToken));
                return await client.GetDatabase().StringSetAsync("after-set", "yes");
            }
            catch (RedisException)
            {
                return false;
            }
        }, TimeSpan.FromSeconds(15), () => "the primary endpoint never took the new token");

        // A writer on the proxy's primary endpoint (TLS, the new token); the primary is killed.
        await using var writer = await AcknowledgedWriter.StartAsync(() => Task.FromResult(endpointAddress), configure: o => WithToken(o, tls, NewToken));
        await writer.WaitForAsync(50);
        using (var docker = Docker(Engines[(string)primaryNode["availabilityZone"]!]))
            await docker.Containers.KillContainerAsync($"{Instance}-{primaryNode["id"]}", new ContainerKillParameters { Signal = "SIGKILL" });
        JsonObject? healed = null;
        await WaitUntilAsync(async () =>
        {
            healed = await BodyAsync(await Client.GetAsync("/v1/replication-groups/proxied"));
            var nodes = Nodes(healed).ToList();
            return (string?)healed["status"] == "available" && nodes.Count == 3
                && nodes.All(n => (string?)n["status"] == "available" && (string?)n["id"] != (string?)primaryNode["id"]);
        }, TimeSpan.FromSeconds(90), () => $"never healed: {healed?.ToJsonString()}\n{EventsText()}");
        // The proxy's TLS checks (logged in as cp-health) found the new primary: acknowledged writes go on through it.
        await writer.WaitForAsync(writer.Acknowledged.Count + 50);
        var acknowledged = await writer.StopAsync();
        await using (var client = await ConnectionMultiplexer.ConnectAsync(WithToken(tls.Options(endpointAddress), NewToken)))
        {
            await AcknowledgedWriter.AssertKeptAsync(client, acknowledged);
            Assert.Equal("yes", (string?)await client.GetDatabase().StringGetAsync("after-set"));
        }
        var newPrimary = Nodes(healed!).Single(n => (string?)n["role"] == "primary");
        Assert.Contains($"CN={newPrimary["id"]}", tls.LastSeen!.Subject);
    }

    [Fact]
    public async Task Plain_text_to_preferred_to_required_through_the_proxy_keeps_the_tls_clients()
    {
        await AssertAcceptedAsync(await PostAsync("/v1/replication-groups", new { id = "px-steps", replicasPerShard = 1 }));
        var group = await WaitForStatusAsync("/v1/replication-groups/px-steps", "available", TimeSpan.FromMinutes(2));
        var endpoint = RedisCreateTests.Endpoint(group["primaryEndpoint"]!);
        await using (var plain = await ConnectionMultiplexer.ConnectAsync(new ConfigurationOptions { EndPoints = { endpoint } }))
            await plain.GetDatabase().StringSetAsync("before", "plain");

        // Plain text -> preferred: the nodes' ports speak TLS, and so do the proxy's checks (a new proxy, at once).
        await AssertAcceptedAsync(await PatchAsync("/v1/replication-groups/px-steps", new { transitEncryption = true, transitEncryptionMode = "preferred" }));
        JsonObject? preferred = null;
        await WaitUntilAsync(async () =>
        {
            preferred = await BodyAsync(await Client.GetAsync("/v1/replication-groups/px-steps"));
            // Modifying until every node took the step.
            return (string?)preferred["status"] == "available" && (string?)preferred["transitEncryptionMode"] == "preferred";
        }, TimeSpan.FromSeconds(30), () => $"{preferred?.ToJsonString()}\n{EventsText()}");
        var tls = await TlsClient.FetchAsync(Client);
        ConnectionMultiplexer? client = null;
        await WaitUntilAsync(async () =>
        {
            ConnectionMultiplexer? attempt = null;
            try
            {
                attempt = await ConnectionMultiplexer.ConnectAsync(tls.Options(endpoint));
                if ((string?)await attempt.GetDatabase().StringGetAsync("before") != "plain")
                    return false;
                client = attempt;
                attempt = null;
                return true;
            }
            catch (RedisException)
            {
                return false;
            }
            finally
            {
                if (attempt is not null)
                    await attempt.DisposeAsync();
            }
        }, TimeSpan.FromSeconds(20), () => $"the primary endpoint never served TLS\n{EventsText()}");
        await using var tlsClient = client!;
        var proxy = await ProxyContainerAsync();

        // A TLS client on the primary endpoint that writes on (each write acknowledged by the replica) and counts every failed command.
        await using var writer = await AcknowledgedWriter.StartAsync(endpoint, token: null, tls.Configure);
        await writer.WaitForAsync(50);

        // Preferred -> required: the checks already speak TLS, so the proxy and its TLS connections stay.
        await AssertAcceptedAsync(await PatchAsync("/v1/replication-groups/px-steps", new { transitEncryptionMode = "required" }));
        JsonObject? required = null;
        await WaitUntilAsync(async () =>
        {
            required = await BodyAsync(await Client.GetAsync("/v1/replication-groups/px-steps"));
            return (string?)required["status"] == "available" && (string?)required["transitEncryptionMode"] == "required";
        }, TimeSpan.FromSeconds(30), () => $"{required?.ToJsonString()}\n{EventsText()}");
        await writer.WaitForAsync(writer.Acknowledged.Count + 50);
        var acknowledged = await writer.StopAsync();
        Assert.True(writer.Failed == 0, $"{writer.Failed} failed command(s) on the TLS client");
        Assert.Equal(proxy, await ProxyContainerAsync());
        Assert.Null(await TlsClient.PlainTextAsync(((IPEndPoint)endpoint).Port, "PING\r\n", r => r.EndsWith("\r\n", StringComparison.Ordinal)));
        await AcknowledgedWriter.AssertKeptAsync(tlsClient, acknowledged);
    }

    private static ConfigurationOptions WithToken(ConfigurationOptions options, string token)
    {
        options.Password = token;
        return options;
    }

    private static void WithToken(ConfigurationOptions options, TlsClient tls, string token)
    {
        tls.Configure(options);
        options.Password = token;
    }

    private static IEnumerable<JsonNode> Nodes(JsonNode group) => group["shards"]![0]!["nodes"]!.AsArray().Select(n => n!);

    private async Task<string> ProxyContainerAsync()
    {
        var found = new List<string>();
        foreach (var engine in Engines.Values)
            foreach (var container in await OurContainersAsync(engine))
                if (container.Labels.TryGetValue(Labels.Kind, out var kind) && kind == "endpoint" && container.State == "running")
                    found.Add(container.ID);
        return Assert.Single(found);
    }
}
