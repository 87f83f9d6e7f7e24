using System.Diagnostics;
using System.Net;
using ControlPlane.Api.Tests.Infrastructure;
using ControlPlane.Api.Tests.Reconciliation;
using ControlPlane.Migrations;

namespace ControlPlane.Api.Tests.Chaos;

/// <summary>
/// Postgres stopped for 20 s under a running control plane and a group under writes: the caches
/// never notice, the API says 503 meanwhile, nothing is failed over, and all is as before after.
/// Its own Postgres server: stopping it must not disturb the other tests.
/// </summary>
public sealed class PostgresOutageTests(PostgresFixture postgres) : ChaosTest(postgres)
{
    private PostgresServer? _server;

    protected override async Task<string> NewDatabaseAsync()
    {
        _server = await PostgresServer.StartAsync();
        var connectionString = await _server.CreateDatabaseAsync("outage");
        await Migrator.MigrateAsync(connectionString, CancellationToken.None);
        return connectionString;
    }

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        if (_server is not null)
            await _server.DisposeAsync();
    }

    [Fact]
    public async Task Postgres_stopped_for_20_seconds_stops_no_cache_and_fails_nothing_over()
    {
        Start();
        var group = await CreateAsync("pgo", new { id = "pgo", replicasPerShard = 1 });
        var endpoint = RedisCreateTests.Endpoint(group["primaryEndpoint"]!);
        await using var writer = await AcknowledgedWriter.StartAsync(() => Task.FromResult(endpoint));
        await writer.WaitForAsync(30);

        await _server!.StopAsync();
        var outage = Stopwatch.StartNew();
        var during = await Client.GetAsync("/v1/replication-groups/pgo");
        await AssertProblemAsync(during, HttpStatusCode.ServiceUnavailable, "ServiceUnavailable");
        // The caches do not depend on the database: writes go on being acknowledged by the replica.
        await writer.WaitForAsync(writer.Acknowledged.Count + 200);
        await Task.Delay(TimeSpan.FromSeconds(20) - outage.Elapsed is { Ticks: > 0 } rest ? rest : TimeSpan.Zero); // the outage lasts 20 s
        await _server.StartAgainAsync();

        await WaitUntilAsync(async () => (await Client.GetAsync("/v1/replication-groups/pgo")).StatusCode == HttpStatusCode.OK,
            TimeSpan.FromSeconds(60), () => "the API never recovered");
        await Task.Delay(TimeSpan.FromSeconds(3)); // the reconciler, back on the database, has this long to misjudge anything
        var after = await GroupAsync("pgo");
        Assert.Equal("available", (string?)after["status"]);
        Assert.Equal(NodeIds(group), NodeIds(after));
        Assert.DoesNotContain(await MessagesAsync("pgo"), e => e.StartsWith("Failover", StringComparison.Ordinal) || e.Contains("failed", StringComparison.OrdinalIgnoreCase));
        await AssertAllPresentAsync(after, await writer.StopAsync());
        await AssertCleanAsync();
    }
}
