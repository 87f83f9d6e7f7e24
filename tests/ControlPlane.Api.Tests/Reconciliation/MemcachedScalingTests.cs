using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;
using ControlPlane.Api.Runtime;
using ControlPlane.Api.Tests.Infrastructure;

namespace ControlPlane.Api.Tests.Reconciliation;

/// <summary>numNodes up and down on real engines: nodes are added and removed online, and the nodes that stay keep their data.</summary>
public sealed class MemcachedScalingTests(PostgresFixture postgres) : ReconcilerTest(postgres)
{
    [Fact]
    public async Task Memcached_cluster_scales_2_to_5_to_3_online_and_the_nodes_that_stay_keep_their_data()
    {
        await AssertAcceptedAsync(await PostAsync("/v1/cache-clusters", new { id = "scale", engine = "memcached", numNodes = 2, azMode = "cross-az" }));
        var cluster = await WaitForStatusAsync("/v1/cache-clusters/scale", "available");
        foreach (var (id, port) in Ports(cluster))
            Assert.Equal("STORED\r\n", await MemcachedAsync(port, $"set key-{id} 0 0 4\r\nkept\r\n"));

        await AssertAcceptedAsync(await PatchAsync("/v1/cache-clusters/scale", new { numNodes = 5 }));
        cluster = await WaitForStatusAsync("/v1/cache-clusters/scale", "available");
        Assert.Null(cluster["pendingChanges"]);
        Assert.Equal(5, (int?)cluster["numNodes"]);
        Assert.Equal(["scale-0001", "scale-0002", "scale-0003", "scale-0004", "scale-0005"], Ports(cluster).Keys);
        Assert.Equal(["az-a", "az-b", "az-c", "az-a", "az-b"], cluster["nodes"]!.AsArray().Select(n => (string)n!["availabilityZone"]!));
        Assert.All(cluster["nodes"]!.AsArray(), n => Assert.Equal("available", (string?)n!["status"]));
        await AssertEveryNodeAnswersAsync(cluster);
        await AssertKeptAsync(cluster, "scale-0001", "scale-0002");
        Assert.Equal(5, await CountAsync(db => db.PortLeases.Where(l => !l.NodeId.EndsWith("-configuration"))));

        var removed = new[] { "scale-0003", "scale-0005" };
        var before = Ports(cluster);
        await AssertAcceptedAsync(await PatchAsync("/v1/cache-clusters/scale", new { numNodes = 3, nodeIdsToRemove = removed }));
        cluster = await WaitForStatusAsync("/v1/cache-clusters/scale", "available");
        Assert.Null(cluster["pendingChanges"]);
        Assert.Equal(3, (int?)cluster["numNodes"]);
        Assert.Equal(["scale-0001", "scale-0002", "scale-0004"], Ports(cluster).Keys);
        Assert.NotNull(cluster["configurationEndpoint"]);
        await AssertEveryNodeAnswersAsync(cluster);
        await AssertKeptAsync(cluster, "scale-0001", "scale-0002");

        var containers = (await Task.WhenAll(Engines.Values.Select(OurContainersAsync))).SelectMany(c => c).ToList();
        Assert.Equal(["scale-0001", "scale-0002", "scale-0004"], containers.Select(c => c.Labels[Labels.Node]).Order());
        Assert.Equal(3, await CountAsync(db => db.PortLeases.Where(l => !l.NodeId.EndsWith("-configuration"))));
        foreach (var id in removed)
        {
            using var listener = new TcpListener(IPAddress.Loopback, before[id]);
            listener.Start(); // nothing listens on a removed node's port any more
        }

        var events = (await BodyAsync(await Client.GetAsync("/v1/events?sourceId=scale")))["items"]!.AsArray().Select(e => (string)e!["message"]!).ToList();
        Assert.Contains("Added cache node scale-0003 in availability zone az-c", events);
        Assert.Contains("Added cache node scale-0004 in availability zone az-a", events);
        Assert.Contains("Added cache node scale-0005 in availability zone az-b", events);
        Assert.Contains("Removed cache node scale-0003", events);
        Assert.Contains("Removed cache node scale-0005", events);
        Assert.Equal(2, events.Count(e => e == "Cache cluster scale is available"));
        Assert.DoesNotContain(events, e => e.StartsWith("Finished recovery", StringComparison.Ordinal) || e.EndsWith("failed", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_new_memcached_node_type_replaces_every_node_before_the_old_ones_go()
    {
        await AssertAcceptedAsync(await PostAsync("/v1/cache-clusters", new { id = "retype", engine = "memcached", numNodes = 2, azMode = "cross-az" }));
        await WaitForStatusAsync("/v1/cache-clusters/retype", "available");

        await AssertAcceptedAsync(await PatchAsync("/v1/cache-clusters/retype", new { nodeType = "cache.micro" }));
        var cluster = await WaitForStatusAsync("/v1/cache-clusters/retype", "available");
        Assert.Equal("cache.micro", (string?)cluster["nodeType"]);
        Assert.Equal(["retype-0003", "retype-0004"], Ports(cluster).Keys);
        Assert.Equal(["az-a", "az-b"], cluster["nodes"]!.AsArray().Select(n => (string)n!["availabilityZone"]!));
        await AssertEveryNodeAnswersAsync(cluster);

        var containers = (await Task.WhenAll(Engines.Values.Select(OurContainersAsync))).SelectMany(c => c).ToList();
        Assert.Equal(["retype-0003", "retype-0004"], containers.Select(c => c.Labels[Labels.Node]).Order());
        using var docker = Docker(Engines["az-a"]);
        var inspected = await docker.Containers.InspectContainerAsync(containers.Single(c => c.Labels[Labels.Node] == "retype-0003").ID);
        Assert.Equal(128L * 1024 * 1024, inspected.HostConfig!.Memory);
        Assert.Equal(2, await CountAsync(db => db.PortLeases.Where(l => !l.NodeId.EndsWith("-configuration"))));

        var events = (await BodyAsync(await Client.GetAsync("/v1/events?sourceId=retype")))["items"]!.AsArray().Select(e => (string)e!["message"]!).ToList();
        Assert.Contains("Added cache node retype-0003 in availability zone az-a", events);
        Assert.Contains("Removed cache node retype-0001", events);
        // Make before break: both new nodes served before the first old one went.
        Assert.True(events.IndexOf("Removed cache node retype-0001") < events.IndexOf("Added cache node retype-0004 in availability zone az-b"), string.Join("\n", events));
    }

    private static Dictionary<string, int> Ports(JsonObject cluster) =>
        cluster["nodes"]!.AsArray().ToDictionary(n => (string)n!["id"]!, n => (int)n!["endpoint"]!["port"]!);

    private static async Task AssertEveryNodeAnswersAsync(JsonObject cluster)
    {
        foreach (var (id, port) in Ports(cluster))
            Assert.True((await MemcachedAsync(port, "version\r\n")).StartsWith("VERSION ", StringComparison.Ordinal), $"{id} does not answer version");
    }

    private static async Task AssertKeptAsync(JsonObject cluster, params string[] nodeIds)
    {
        var ports = Ports(cluster);
        foreach (var id in nodeIds)
            Assert.Equal($"VALUE key-{id} 0 4\r\nkept\r\nEND\r\n", await MemcachedAsync(ports[id], $"get key-{id}\r\n"));
    }

    /// <summary>One command on a fresh connection; reads until the reply's last line.</summary>
    internal static async Task<string> MemcachedAsync(int port, string command)
    {
        using var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, port);
        var stream = client.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes(command));
        var reply = new StringBuilder();
        var buffer = new byte[1024];
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        do
        {
            var read = await stream.ReadAsync(buffer, timeout.Token);
            if (read == 0)
                break;
            reply.Append(Encoding.ASCII.GetString(buffer, 0, read));
        } while (!IsComplete(reply.ToString()));
        return reply.ToString();
    }

    private static bool IsComplete(string reply) =>
        reply.EndsWith("\r\n", StringComparison.Ordinal)
        && (!(reply.StartsWith("VALUE ", StringComparison.Ordinal) || reply.StartsWith("STAT ", StringComparison.Ordinal)) || reply.EndsWith("END\r\n", StringComparison.Ordinal));
}
