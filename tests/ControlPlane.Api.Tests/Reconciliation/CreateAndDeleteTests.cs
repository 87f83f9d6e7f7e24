using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;
using ControlPlane.Api.Runtime;
using ControlPlane.Api.Tests.Infrastructure;
using Docker.DotNet.Models;
using StackExchange.Redis;

namespace ControlPlane.Api.Tests.Reconciliation;

public sealed class RedisCreateTests(PostgresFixture postgres) : ReconcilerTest(postgres)
{
    [Fact]
    public async Task Cluster_mode_disabled_group_replicates_from_the_primary_endpoint_to_every_replica()
    {
        await AssertAcceptedAsync(await PostAsync("/v1/replication-groups", new { id = "cmd", replicasPerShard = 2 }));
        var group = await WaitForStatusAsync("/v1/replication-groups/cmd", "available");

        var nodes = group["shards"]![0]!["nodes"]!.AsArray();
        Assert.Equal(["primary", "replica", "replica"], nodes.Select(n => (string)n!["role"]!));
        Assert.All(nodes, n => Assert.Equal("available", (string?)n!["status"]));
        Assert.Equal(3, nodes.Select(n => (string)n!["availabilityZone"]!).Distinct().Count()); // spread over az-a, az-b, az-c
        Assert.Null(group["configurationEndpoint"]);

        var primary = Endpoint(group["primaryEndpoint"]!);
        await using (var writer = await ConnectionMultiplexer.ConnectAsync(new ConfigurationOptions { EndPoints = { primary }, AllowAdmin = true }))
            await writer.GetDatabase().StringSetAsync("greeting", "hello");
        foreach (var replica in nodes.Where(n => (string?)n!["role"] == "replica"))
        {
            await using var reader = await ConnectionMultiplexer.ConnectAsync(new ConfigurationOptions { EndPoints = { Endpoint(replica!["endpoint"]!) } });
            await WaitUntilAsync(async () => await reader.GetDatabase().StringGetAsync("greeting", CommandFlags.PreferReplica) == "hello",
                TimeSpan.FromSeconds(10), () => $"replica {replica["id"]} never saw the key");
        }
        // The endpoints are the group's proxy: the primary one reaches the primary, the reader one a replica.
        Assert.DoesNotContain(nodes, n => Endpoint(n!["endpoint"]!).ToString() == primary.ToString());
        await using (var viaReader = await ConnectionMultiplexer.ConnectAsync(new ConfigurationOptions { EndPoints = { Endpoint(group["readerEndpoint"]!) }, AllowAdmin = true }))
        {
            var role = (RedisResult[])(await viaReader.GetServers()[0].ExecuteAsync("ROLE"))!;
            Assert.Equal("slave", (string?)role[0]);
            Assert.Equal("hello", (string?)await viaReader.GetDatabase().StringGetAsync("greeting", CommandFlags.PreferReplica));
        }

        var events = await BodyAsync(await Client.GetAsync("/v1/events?sourceId=cmd"));
        Assert.Contains(events["items"]!.AsArray(), e => (string?)e!["message"] == "Replication group cmd created");
    }

    [Fact]
    public async Task Cluster_mode_enabled_group_serves_keys_from_all_three_shards()
    {
        await AssertAcceptedAsync(await PostAsync("/v1/replication-groups", new { id = "cme", clusterMode = "enabled", numShards = 3, replicasPerShard = 1 }));
        var group = await WaitForStatusAsync("/v1/replication-groups/cme", "available");
        Assert.Null(group["primaryEndpoint"]);
        Assert.NotNull(group["configurationEndpoint"]);

        var nodes = group["shards"]!.AsArray().SelectMany(s => s!["nodes"]!.AsArray()).ToList();
        Assert.Equal(6, nodes.Count);
        foreach (var node in nodes)
        {
            await using var direct = await ConnectionMultiplexer.ConnectAsync(new ConfigurationOptions { EndPoints = { Endpoint(node!["endpoint"]!) }, AllowAdmin = true });
            var info = (string?)await direct.GetServers()[0].ExecuteAsync("CLUSTER", "INFO");
            Assert.Contains("cluster_state:ok", info);
        }

        var options = new ConfigurationOptions();
        options.EndPoints.Add(Endpoint(group["configurationEndpoint"]!));
        await using var cluster = await ConnectionMultiplexer.ConnectAsync(options);
        var db = cluster.GetDatabase();
        var keys = Enumerable.Range(0, 300).Select(i => $"key:{i}").ToList();
        foreach (var key in keys)
            await db.StringSetAsync(key, key.ToUpperInvariant());
        foreach (var key in keys)
            Assert.Equal(key.ToUpperInvariant(), (string?)await db.StringGetAsync(key));

        // Every shard holds some of them.
        foreach (var shard in group["shards"]!.AsArray())
        {
            var primary = shard!["nodes"]!.AsArray().Single(n => (string?)n!["role"] == "primary")!;
            await using var direct = await ConnectionMultiplexer.ConnectAsync(new ConfigurationOptions { EndPoints = { Endpoint(primary["endpoint"]!) }, AllowAdmin = true });
            Assert.True(await direct.GetServers()[0].DatabaseSizeAsync() > 0, $"shard {shard["id"]} holds no key");
        }
    }

    [Fact]
    public async Task Custom_slot_ranges_are_honoured()
    {
        await AssertAcceptedAsync(await PostAsync("/v1/replication-groups", new
        {
            id = "slots", clusterMode = "enabled", numShards = 2, replicasPerShard = 0, multiAz = false,
            shards = new[] { new { slots = "0-99,10000-16383" }, new { slots = "100-9999" } },
        }));
        var group = await WaitForStatusAsync("/v1/replication-groups/slots", "available");
        Assert.Equal("0-99,10000-16383", (string?)group["shards"]![0]!["slots"]);
        var first = group["shards"]![0]!["nodes"]![0]!;
        await using var direct = await ConnectionMultiplexer.ConnectAsync(new ConfigurationOptions { EndPoints = { Endpoint(first["endpoint"]!) }, AllowAdmin = true });
        var slots = (RedisResult[])(await direct.GetServers()[0].ExecuteAsync("CLUSTER", "SLOTS"))!;
        var byOwner = slots.Select(r => (RedisResult[])r!).Select(r => ((int)r[0], (int)r[1], (int)((RedisResult[])r[2]!)[1])).OrderBy(r => r.Item1).ToList();
        var firstPort = (int)first["endpoint"]!["port"]!;
        Assert.Equal([(0, 99, firstPort), (10000, 16383, firstPort)], byOwner.Where(r => r.Item3 == firstPort));
        Assert.Equal((100, 9999), byOwner.Where(r => r.Item3 != firstPort).Select(r => (r.Item1, r.Item2)).Single());
    }

    internal static EndPoint Endpoint(JsonNode endpoint) => new IPEndPoint(IPAddress.Parse((string)endpoint["host"]!), (int)endpoint["port"]!);
}

public sealed class MemcachedAndLifecycleTests(PostgresFixture postgres) : ReconcilerTest(postgres)
{
    [Fact]
    public async Task Three_node_memcached_cluster_sets_and_gets_on_every_node()
    {
        await AssertAcceptedAsync(await PostAsync("/v1/cache-clusters", new { id = "mc", engine = "memcached", numNodes = 3, azMode = "cross-az" }));
        var cluster = await WaitForStatusAsync("/v1/cache-clusters/mc", "available");
        var nodes = cluster["nodes"]!.AsArray();
        Assert.Equal(3, nodes.Count);
        foreach (var node in nodes)
        {
            var port = (int)node!["endpoint"]!["port"]!;
            Assert.Equal("STORED", await MemcachedAsync(port, "set k 0 0 5\r\nvalue\r\n"));
            Assert.Equal("VALUE k 0 5", await MemcachedAsync(port, "get k\r\n"));
        }
    }

    [Fact]
    public async Task Delete_removes_every_container_and_frees_every_port()
    {
        await AssertAcceptedAsync(await PostAsync("/v1/replication-groups", new { id = "doomed", clusterMode = "enabled", numShards = 2, replicasPerShard = 1 }));
        var group = await WaitForStatusAsync("/v1/replication-groups/doomed", "available");
        var ports = group["shards"]!.AsArray().SelectMany(s => s!["nodes"]!.AsArray()).Select(n => (int)n!["endpoint"]!["port"]!).ToList();
        Assert.Equal(4, (await Task.WhenAll(Engines.Values.Select(OurContainersAsync))).Sum(c => c.Count));

        await AssertAcceptedAsync(await Client.DeleteAsync("/v1/replication-groups/doomed"));
        await WaitUntilAsync(async () => (await Client.GetAsync("/v1/replication-groups/doomed")).StatusCode == HttpStatusCode.NotFound,
            TimeSpan.FromSeconds(30), () => "the group was never deleted");
        Assert.Equal(0, (await Task.WhenAll(Engines.Values.Select(OurContainersAsync))).Sum(c => c.Count));
        Assert.Equal(0, await CountAsync(db => db.PortLeases));
        foreach (var port in ports)
        {
            using var listener = new TcpListener(IPAddress.Loopback, port);
            listener.Start(); // nothing listens there any more
        }
        var events = await BodyAsync(await Client.GetAsync("/v1/events?sourceId=doomed"));
        Assert.Contains(events["items"]!.AsArray(), e => (string?)e!["message"] == "Replication group doomed deleted");
    }

    [Fact]
    public async Task An_orphan_container_with_our_labels_is_removed()
    {
        var engine = Engines["az-a"];
        using var docker = Docker(engine);
        var created = await docker.Containers.CreateContainerAsync(new CreateContainerParameters
        {
            Name = $"{Instance}-orphan-0001-001",
            Image = Environment.GetEnvironmentVariable("CONTROLPLANE_REDIS_IMAGE") ?? "controlplane/redis:7.0",
            Cmd = ["redis-server", "--port", $"{PortRangeEnd}", "--bind", "127.0.0.1", "--save", ""],
            Labels = new Dictionary<string, string> { [Labels.Managed] = "true", [Labels.Instance] = Instance, [Labels.Node] = "orphan-0001-001", [Labels.Group] = "orphan" },
            HostConfig = new HostConfig { NetworkMode = "host" },
        });
        try
        {
            await docker.Containers.StartContainerAsync(created.ID, new ContainerStartParameters());
        }
        catch (Docker.DotNet.DockerApiException e) when (e.StatusCode == HttpStatusCode.Conflict)
        {
            // The reconciler was quicker: the container is already being removed.
        }
        await WaitUntilAsync(async () => (await OurContainersAsync(engine)).All(c => c.ID != created.ID),
            TimeSpan.FromSeconds(20), () => "the orphan container is still there");
    }

    [Fact]
    public async Task A_node_that_cannot_start_fails_the_create_with_an_event()
    {
        await AssertAcceptedAsync(await PostAsync("/v1/replication-groups", new { id = "broken", engineVersion = "6.2", replicasPerShard = 1 }));
        var group = await WaitForStatusAsync("/v1/replication-groups/broken", "create-failed");
        Assert.All(group["shards"]![0]!["nodes"]!.AsArray(), n => Assert.Equal("failed", (string?)n!["status"]));
        var events = (await BodyAsync(await Client.GetAsync("/v1/events?sourceId=broken")))["items"]!.AsArray();
        Assert.Contains(events, e => ((string?)e!["message"])!.StartsWith("Creation of replication group broken failed:", StringComparison.Ordinal));
        Assert.Equal(0, (await Task.WhenAll(Engines.Values.Select(OurContainersAsync))).Sum(c => c.Count));
        Assert.Equal(0, await CountAsync(db => db.PortLeases));

        await AssertAcceptedAsync(await Client.DeleteAsync("/v1/replication-groups/broken"));
        await WaitUntilAsync(async () => (await Client.GetAsync("/v1/replication-groups/broken")).StatusCode == HttpStatusCode.NotFound,
            TimeSpan.FromSeconds(30), () => "the failed group was never deleted");
    }

    /// <summary>A version whose image does not exist on the engines: its nodes cannot start.</summary>
    protected override IReadOnlyDictionary<string, string?> ExtraSettings => new Dictionary<string, string?>
    {
        ["ControlPlane:EngineVersions:0:Engine"] = "redis",
        ["ControlPlane:EngineVersions:0:Version"] = "7.0",
        ["ControlPlane:EngineVersions:0:Image"] = Environment.GetEnvironmentVariable("CONTROLPLANE_REDIS_IMAGE") ?? "controlplane/redis:7.0",
        ["ControlPlane:EngineVersions:1:Engine"] = "redis",
        ["ControlPlane:EngineVersions:1:Version"] = "6.2",
        ["ControlPlane:EngineVersions:1:Image"] = "controlplane/no-such-image:6.2",
        ["ControlPlane:EngineVersions:2:Engine"] = "memcached",
        ["ControlPlane:EngineVersions:2:Version"] = "1.6",
        ["ControlPlane:EngineVersions:2:Image"] = Environment.GetEnvironmentVariable("CONTROLPLANE_MEMCACHED_IMAGE") ?? "controlplane/memcached:1.6",
    };

    private static async Task<string> MemcachedAsync(int port, string command)
    {
        using var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, port);
        var stream = client.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes(command));
        var buffer = new byte[1024];
        var read = await stream.ReadAsync(buffer);
        return Encoding.ASCII.GetString(buffer, 0, read).Split("\r\n")[0];
    }
}
