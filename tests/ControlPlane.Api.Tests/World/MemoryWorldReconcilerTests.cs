using ControlPlane.Api.Engines;
using ControlPlane.Api.Tests.Infrastructure;
using ControlPlane.Api.World.InMemory;
using ControlPlane.Domain;

namespace ControlPlane.Api.Tests.World;

/// <summary>The real reconciler on the in-memory world: creates, a dead primary, a hung primary, a zone that does not answer.</summary>
public sealed class MemoryWorldReconcilerTests(PostgresFixture postgres) : MemoryWorldTest(postgres)
{
    [Fact]
    public async Task A_cluster_mode_group_and_a_memcached_cluster_are_created_to_available_without_docker()
    {
        await AssertAcceptedAsync(await PostAsync("/v1/replication-groups", new { id = "mem-cme", clusterMode = "enabled", numShards = 3, replicasPerShard = 2 }));
        await AssertAcceptedAsync(await PostAsync("/v1/cache-clusters", new { id = "mem-mc", engine = "memcached", numNodes = 3, azMode = "cross-az" }));

        var group = await WaitForStatusAsync("/v1/replication-groups/mem-cme", "available");
        var cluster = await WaitForStatusAsync("/v1/cache-clusters/mem-mc", "available");

        Assert.Equal(9, Nodes(group).Count);
        Assert.All(Nodes(group), n => Assert.Equal("available", (string?)n["status"]));
        // What the world holds is what the API says: one primary per shard owning its slots, two replicas following it.
        var slots = 0;
        foreach (var shard in group["shards"]!.AsArray())
        {
            var nodes = shard!["nodes"]!.AsArray().Select(n => n!).ToList();
            var primary = World.Redis(Address(nodes.Single(n => (string?)n["role"] == "primary")).Host, Address(nodes.Single(n => (string?)n["role"] == "primary")).Port)!;
            Assert.Equal(RedisRole.Master, primary.Role);
            Assert.Equal(SlotRanges.Format(primary.Slots), (string?)shard["slots"]);
            slots += primary.Slots.Count;
            foreach (var replica in nodes.Where(n => (string?)n["role"] == "replica").Select(n => World.Redis(Address(n).Host, Address(n).Port)!))
            {
                Assert.Equal(primary.MyId, replica.ClusterMasterId);
                Assert.True(replica.LinkUp);
                Assert.Equal(9, replica.Known.Count);
            }
        }
        Assert.Equal(SlotRanges.SlotCount, slots);
        Assert.All(Nodes(group), n => Assert.Equal("ok", Cluster(n)["cluster_state"]));
        // Three memcached containers, one per zone, and no others of ours.
        Assert.Equal(3, World.Containers().Count(c => c.Container.Labels.GetValueOrDefault("controlplane.group") == "mem-mc" && c.Container.Running));
        Assert.Equal(["az-a", "az-b", "az-c"], World.Containers().Where(c => c.Container.Labels.GetValueOrDefault("controlplane.group") == "mem-mc").Select(c => c.Zone).Order());
        Assert.Equal(3, cluster["nodes"]!.AsArray().Count);
    }

    [Fact]
    public async Task A_dead_primary_is_taken_over_by_a_replica_and_replaced()
    {
        await AssertAcceptedAsync(await PostAsync("/v1/replication-groups", new { id = "mem-die", clusterMode = "enabled", numShards = 3, replicasPerShard = 2 }));
        var group = await WaitForStatusAsync("/v1/replication-groups/mem-die", "available");
        var primary = PrimaryOf(group, "0002");
        var deadId = World.Redis(Address(primary).Host, Address(primary).Port)!.MyId;
        var replicas = group["shards"]![1]!["nodes"]!.AsArray().Where(n => (string?)n!["role"] == "replica").Select(n => (string)n!["id"]!).ToList();

        Assert.True(World.Kill(ContainerName(primary)));
        var healed = await WaitForFullStrengthAsync("mem-die", 9, gone: (string)primary["id"]!);

        Assert.Contains((string)PrimaryOf(healed, "0002")["id"]!, replicas);
        var events = await MessagesAsync("mem-die");
        Assert.Contains(events, e => e.StartsWith($"Failover from primary node {primary["id"]} to replica node mem-die-0002-", StringComparison.Ordinal));
        // The cluster is whole again in every node's view, and has forgotten the dead node.
        Assert.All(Nodes(healed), n => Assert.Equal("ok", Cluster(n)["cluster_state"]));
        Assert.All(Nodes(healed), n => Assert.DoesNotContain(deadId, World.Redis(Address(n).Host, Address(n).Port)!.Known));
        Assert.DoesNotContain(World.Containers(), c => c.Container.Name == ContainerName(primary));
    }

    [Fact]
    public async Task A_hung_primary_is_detected_by_its_probes_and_failed_over()
    {
        await AssertAcceptedAsync(await PostAsync("/v1/replication-groups", new { id = "mem-hang", clusterMode = "enabled", numShards = 2, replicasPerShard = 1 }));
        var group = await WaitForStatusAsync("/v1/replication-groups/mem-hang", "available");
        var primary = PrimaryOf(group, "0001");
        var replica = group["shards"]![0]!["nodes"]!.AsArray().Single(n => (string?)n!["role"] == "replica")!;

        // Its container runs on: only the probes can tell.
        World.Hang(ContainerName(primary));
        var healed = await WaitForFullStrengthAsync("mem-hang", 4, gone: (string)primary["id"]!);

        Assert.Equal((string?)replica["id"], (string?)PrimaryOf(healed, "0001")["id"]);
        Assert.All(Nodes(healed), n => Assert.Equal("ok", Cluster(n)["cluster_state"]));
        Assert.DoesNotContain(World.Containers(), c => c.Container.Name == ContainerName(primary));
    }

    [Fact]
    public async Task A_zone_that_does_not_answer_is_healed_around_and_cleaned_up_when_it_answers_again()
    {
        await AssertAcceptedAsync(await PostAsync("/v1/cache-clusters", new { id = "mem-zone", engine = "memcached", numNodes = 3, azMode = "cross-az" }));
        var cluster = await WaitForStatusAsync("/v1/cache-clusters/mem-zone", "available");
        var lost = cluster["nodes"]!.AsArray().Single(n => (string?)n!["availabilityZone"] == "az-c")!;

        // The zone's engine and its nodes are cut off together, as a zone outage looks from here.
        World.SetZoneAnswering("az-c", false);
        World.Hang(ContainerName(lost));
        JsonObjectHolder last = new();
        await WaitUntilAsync(async () =>
        {
            last.Value = await BodyAsync(await Client.GetAsync("/v1/cache-clusters/mem-zone"));
            var nodes = last.Value["nodes"]!.AsArray().Select(n => n!).ToList();
            return (string?)last.Value["status"] == "available" && nodes.Count == 3
                && nodes.All(n => (string?)n["status"] == "available" && (string?)n["id"] != (string?)lost["id"] && (string?)n["availabilityZone"] != "az-c");
        }, TimeSpan.FromSeconds(60), () => $"mem-zone never healed around az-c: {last.Value?.ToJsonString()}\n{EventsText()}");

        // The cut-off container is still there, out of reach; once the zone answers, it goes (an orphan).
        Assert.Contains(World.Containers(), c => c.Container.Name == ContainerName(lost));
        World.SetZoneAnswering("az-c", true);
        await WaitUntilAsync(() => Task.FromResult(World.Containers().All(c => c.Container.Name != ContainerName(lost))),
            TimeSpan.FromSeconds(30), () => "the node cut off in az-c was never removed once the zone answered");
    }

    [Fact]
    public async Task A_cluster_grown_past_25_nodes_starts_its_new_nodes_with_a_longer_node_timeout_and_keeps_the_nodes_it_had()
    {
        await AssertAcceptedAsync(await PostAsync("/v1/replication-groups", new { id = "mem-grow", clusterMode = "enabled", numShards = 12, replicasPerShard = 1 }));
        var small = await WaitForStatusAsync("/v1/replication-groups/mem-grow", "available");
        Assert.All(Nodes(small), n => Assert.Equal(TimeSpan.FromSeconds(1), RedisOf(n).NodeTimeout));
        var before = Nodes(small).ToDictionary(n => ContainerName(n), n => ContainerId(ContainerName(n)));

        await AssertAcceptedAsync(await PatchAsync("/v1/replication-groups/mem-grow", new { numShards = 14 }));
        var grown = await WaitForFullStrengthAsync("mem-grow", 28);

        // The 24 nodes it had run on in their containers, with the 1 s they started with; the 4 new
        // ones start with 28 x 40 ms (a longer timeout is outside the spec hash: nothing was replaced).
        var kept = Nodes(grown).Where(n => before.ContainsKey(ContainerName(n))).ToList();
        Assert.Equal(24, kept.Count);
        Assert.All(kept, n => Assert.Equal(before[ContainerName(n)], ContainerId(ContainerName(n))));
        Assert.All(kept, n => Assert.Equal(TimeSpan.FromSeconds(1), RedisOf(n).NodeTimeout));
        var added = Nodes(grown).Where(n => !before.ContainsKey(ContainerName(n))).ToList();
        Assert.Equal(4, added.Count);
        Assert.All(added, n => Assert.Equal(TimeSpan.FromMilliseconds(1120), RedisOf(n).NodeTimeout));
        Assert.All(Nodes(grown), n => Assert.Equal("ok", Cluster(n)["cluster_state"]));
    }

    private RedisProcess RedisOf(System.Text.Json.Nodes.JsonNode node) => World.Redis(Address(node).Host, Address(node).Port)!;

    private string ContainerId(string name) => World.Containers().Single(c => c.Container.Name == name).Container.Id;

    private IReadOnlyDictionary<string, string> Cluster(System.Text.Json.Nodes.JsonNode node)
    {
        var (host, port) = Address(node);
        return new MemoryRedisAdmin(World).ClusterInfoAsync(host, port, CancellationToken.None).GetAwaiter().GetResult();
    }

    private sealed class JsonObjectHolder
    {
        public System.Text.Json.Nodes.JsonObject? Value { get; set; }
    }
}
