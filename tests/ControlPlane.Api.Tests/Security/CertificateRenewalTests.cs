using System.Text.Json.Nodes;
using ControlPlane.Api.Tests.Infrastructure;
using ControlPlane.Api.Tests.Reconciliation;
using StackExchange.Redis;

namespace ControlPlane.Api.Tests.Security;

/// <summary>
/// Node certificates valid for 30 seconds (renewed after 20): running Redis and Memcached nodes get
/// new ones in place, without a restart, with their data and their connected TLS clients kept.
/// </summary>
public sealed class CertificateRenewalTests(PostgresFixture postgres) : ReconcilerTest(postgres)
{
    protected override IReadOnlyDictionary<string, string?> ExtraSettings => new Dictionary<string, string?>
    {
        ["ControlPlane:NodeCertificateLifetime"] = "00:00:30",
    };

    [Fact]
    public async Task A_running_redis_node_gets_a_new_certificate_before_the_old_expires_and_keeps_its_data_and_clients()
    {
        await AssertAcceptedAsync(await PostAsync("/v1/replication-groups", new { id = "renew", replicasPerShard = 1, transitEncryption = true }));
        var group = await WaitForStatusAsync("/v1/replication-groups/renew", "available");
        var tls = await TlsClient.FetchAsync(Client);
        var endpoint = RedisCreateTests.Endpoint(group["primaryEndpoint"]!);
        await using var client = await tls.ConnectAsync(endpoint);
        for (var i = 0; i < 100; i++)
            await client.GetDatabase().StringSetAsync($"k{i}", i);
        var first = tls.LastSeen!;
        var containers = await ContainerIdsAsync();

        // A fresh handshake sees a newer certificate while the first one is still valid.
        string? seen = null;
        await WaitUntilAsync(async () =>
        {
            await using var fresh = await tls.ConnectAsync(endpoint);
            seen = tls.LastSeen!.SerialNumber;
            return seen != first.SerialNumber;
        }, TimeSpan.FromSeconds(60), () => $"the primary still shows certificate {seen}\n{EventsText()}");
        var renewed = tls.LastSeen!;
        Assert.True(renewed.NotAfter > first.NotAfter);
        Assert.True(DateTime.Now < first.NotAfter, "renewed only after the old certificate expired");

        // The connection made before is still served, nothing was lost, and no node was replaced.
        Assert.Equal(99, (int)await client.GetDatabase().StringGetAsync("k99"));
        Assert.Equal(containers, await ContainerIdsAsync());
        await using var reader = await tls.ConnectAsync(RedisCreateTests.Endpoint(group["readerEndpoint"]!));
        Assert.Equal(42, (int)await reader.GetDatabase().StringGetAsync("k42"));
        // The event is stored once the pass has renewed every node that was due.
        var events = "";
        await WaitUntilAsync(async () => (events = await Client.GetStringAsync("/v1/events?sourceId=renew")).Contains("has a renewed certificate", StringComparison.Ordinal),
            TimeSpan.FromSeconds(10), () => $"no renewal event: {events}");
    }

    [Fact]
    public async Task A_running_memcached_node_gets_a_new_certificate_and_keeps_its_items()
    {
        await AssertAcceptedAsync(await PostAsync("/v1/cache-clusters", new { id = "renew-mc", engine = "memcached", numNodes = 1, transitEncryption = true }));
        var cluster = await WaitForStatusAsync("/v1/cache-clusters/renew-mc", "available");
        var port = (int)cluster["nodes"]![0]!["endpoint"]!["port"]!;
        var tls = await TlsClient.FetchAsync(Client);
        Assert.Equal("STORED\r\n", await tls.RequestAsync(port, "set kept 0 0 3\r\nyes\r\n", r => r.EndsWith("\r\n", StringComparison.Ordinal)));
        var first = tls.LastSeen!;
        await WaitUntilAsync(async () =>
        {
            await tls.RequestAsync(port, "version\r\n", r => r.EndsWith("\r\n", StringComparison.Ordinal));
            return tls.LastSeen!.SerialNumber != first.SerialNumber;
        }, TimeSpan.FromSeconds(60), () => $"memcached still shows its first certificate\n{EventsText()}");
        Assert.Equal("VALUE kept 0 3\r\nyes\r\nEND\r\n", await tls.RequestAsync(port, "get kept\r\n", r => r.EndsWith("END\r\n", StringComparison.Ordinal)));
    }

    private async Task<List<string>> ContainerIdsAsync()
    {
        var ids = new List<string>();
        foreach (var (_, engine) in Engines)
            ids.AddRange((await OurContainersAsync(engine)).Where(c => c.Labels.ContainsKey("controlplane.node") && c.Labels["controlplane.kind"] == "redis").Select(c => c.ID));
        ids.Sort(StringComparer.Ordinal);
        return ids;
    }
}
