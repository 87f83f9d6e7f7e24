using ControlPlane.Api.Tests.Infrastructure;
using ControlPlane.Api.Tests.Reconciliation;
using Docker.DotNet.Models;

namespace ControlPlane.Api.Tests.Chaos;

/// <summary>
/// The control plane killed (SIGKILL) in the middle of a create, a failover and a snapshot, at
/// seeded moments: the next one finishes the work from what is stored, nothing is left over and
/// no acknowledged write is lost. (The kill in the middle of a slot migration is MigrationRestartTests.)
/// </summary>
public sealed class KillTests(PostgresFixture postgres) : ChaosTest(postgres)
{
    private readonly Random _random = new(4711);

    [Fact]
    public async Task Killed_during_a_create_the_next_control_plane_finishes_it()
    {
        var plane = Start();
        await AssertAcceptedAsync(await PostAsync("/v1/replication-groups", new { id = "born", replicasPerShard = 2 }));
        await AssertAcceptedAsync(await PostAsync("/v1/replication-groups", new { id = "borncl", clusterMode = "enabled", numShards = 3, replicasPerShard = 1 }));
        await WaitUntilAsync(async () => (await OurContainersAsync(Engines["az-a"])).Count > 0, TimeSpan.FromSeconds(60), () => "nothing started");
        await Task.Delay(_random.Next(500));
        plane.Kill();
        Start();
        foreach (var id in new[] { "born", "borncl" })
        {
            await WaitForStatusAsync($"/v1/replication-groups/{id}", "available", TimeSpan.FromMinutes(2));
            Assert.Single(await MessagesAsync(id), e => e == $"Replication group {id} created");
        }
        await AssertCleanAsync();
    }

    [Fact]
    public async Task Killed_during_a_failover_the_next_control_plane_finishes_it_with_nothing_lost()
    {
        var plane = Start();
        var group = await CreateAsync("fo", new { id = "fo", replicasPerShard = 2 });
        var primary = PrimaryOf(group);
        await using var writer = await AcknowledgedWriter.StartAsync(() => PrimaryEndpointAsync("fo"));
        await writer.WaitForAsync(30);
        using (var docker = Docker(Engines[(string)primary["availabilityZone"]!]))
            await docker.Containers.KillContainerAsync($"{Instance}-{primary["id"]}", new ContainerKillParameters { Signal = "SIGKILL" });
        await Task.Delay(_random.Next(400));
        plane.Kill();
        Start();
        await WaitForFullStrengthAsync("fo", 3, gone: (string)primary["id"]!);
        await writer.WaitForAsync(writer.Acknowledged.Count + 30);
        await AssertAllPresentAsync(await GroupAsync("fo"), await writer.StopAsync());
        await AssertCleanAsync();
    }

    [Fact]
    public async Task Killed_during_a_snapshot_the_next_control_plane_takes_it()
    {
        var plane = Start();
        var group = await CreateAsync("snap", new { id = "snap", replicasPerShard = 1 });
        await using (var client = await Scaling.ConnectAsync(group))
            await Scaling.LoadAsync(client, 20_000, "s");
        await using var writer = await AcknowledgedWriter.StartAsync(() => PrimaryEndpointAsync("snap"));
        await writer.WaitForAsync(30);
        await AssertAcceptedAsync(await PostAsync("/v1/snapshots", new { name = "snap-1", replicationGroupId = "snap" }));
        await Task.Delay(_random.Next(600));
        plane.Kill();
        Start();
        var snapshot = await WaitForStatusAsync("/v1/snapshots/snap-1", "available", TimeSpan.FromMinutes(2));
        Assert.True((long)snapshot["files"]![0]!["sizeBytes"]! > 100_000, snapshot.ToJsonString());
        await writer.WaitForAsync(writer.Acknowledged.Count + 30);
        await AssertAllPresentAsync(await WaitForStatusAsync("/v1/replication-groups/snap", "available"), await writer.StopAsync());
        await AssertCleanAsync();
    }

    [Fact]
    public async Task A_group_whose_zone_does_not_answer_is_incompatible_network_not_available_until_healed()
    {
        Start();
        // Every node of the group laid out in az-a: its engine stopping leaves none to reach.
        await CreateAsync("lonely", new
        {
            id = "lonely", clusterMode = "enabled", numShards = 1, replicasPerShard = 1,
            shards = new[] { new { slots = "0-16383", primaryAz = "az-a", replicaAzs = new[] { "az-a" } } },
        });
        Assert.All((await GroupAsync("lonely"))["shards"]![0]!["nodes"]!.AsArray(), n => Assert.Equal("az-a", (string?)n!["availabilityZone"]));
        await ZoneEngine.StopAsync("az-a");
        try
        {
            await WaitForStatusAsync("/v1/replication-groups/lonely", "incompatible-network", TimeSpan.FromSeconds(20));
            Assert.Contains(await MessagesAsync("lonely"), e => e.StartsWith("Replication group lonely is not available: the control plane cannot reach any node", StringComparison.Ordinal));
        }
        finally
        {
            await ZoneEngine.StartAsync("az-a");
        }
        // Its containers died with the engine: the nodes are replaced (the data is gone, and the events say so), then it is available again.
        await WaitForStatusAsync("/v1/replication-groups/lonely", "available", TimeSpan.FromMinutes(2));
        await AssertCleanAsync();
    }

    [Fact]
    public async Task An_engine_restart_loses_the_nodes_it_ran_which_are_healed_with_nothing_lost()
    {
        Start();
        var group = await CreateAsync("eng", new { id = "eng", replicasPerShard = 2, multiAz = true });
        var primary = PrimaryOf(group);
        Assert.Equal("az-a", (string?)primary["availabilityZone"]);
        await using var writer = await AcknowledgedWriter.StartAsync(() => PrimaryEndpointAsync("eng"));
        await writer.WaitForAsync(30);
        await ZoneEngine.StopAsync("az-a");
        await ZoneEngine.StartAsync("az-a");
        await WaitForFullStrengthAsync("eng", 3, gone: (string)primary["id"]!);
        await writer.WaitForAsync(writer.Acknowledged.Count + 30);
        await AssertAllPresentAsync(await GroupAsync("eng"), await writer.StopAsync());
        await AssertCleanAsync();
    }
}
