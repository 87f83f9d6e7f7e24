using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;
using ControlPlane.Api.Tests.Infrastructure;

namespace ControlPlane.Api.Tests.Reconciliation;

/// <summary>Memcached auto discovery on the configuration endpoint, through a real client protocol exchange.</summary>
public sealed class DiscoveryTests(PostgresFixture postgres) : ReconcilerTest(postgres)
{
    [Fact]
    public async Task Config_get_cluster_follows_nodes_added_and_removed_and_ordinary_commands_work_there()
    {
        await AssertAcceptedAsync(await PostAsync("/v1/cache-clusters", new { id = "disco", engine = "memcached", numNodes = 2, azMode = "cross-az" }));
        var cluster = await WaitForStatusAsync("/v1/cache-clusters/disco", "available");
        var endpoint = await WaitForDiscoveryAsync();
        Assert.DoesNotContain(cluster["nodes"]!.AsArray(), n => (int?)n!["endpoint"]?["port"] == endpoint.Port);

        using var client = new TcpClient();
        await client.ConnectAsync(endpoint);
        var session = new Session(client.GetStream());
        var (first, nodes) = await session.ConfigGetClusterAsync();
        Assert.Equal(await NodePortsAsync(), nodes.Select(n => n.Port).Order().ToList());
        Assert.All(nodes, n => Assert.Equal(("127.0.0.1", "127.0.0.1"), (n.Host, n.Ip)));

        // The same connection serves memcached as a node does.
        Assert.Equal("STORED", await session.CommandAsync("set greeting 5 0 5\r\nhello\r\n"));
        Assert.Equal("VALUE greeting 5 5\r\nhello\r\nEND", await session.CommandAsync("get greeting\r\n", untilEnd: true));
        Assert.StartsWith("VERSION 1.6", await session.CommandAsync("version\r\n"));
        Assert.Equal("DELETED", await session.CommandAsync("delete greeting\r\n"));

        await AssertAcceptedAsync(await PatchAsync("/v1/cache-clusters/disco", new { numNodes = 3 }));
        await WaitForStatusAsync("/v1/cache-clusters/disco", "available");
        var (second, grown) = await WaitForConfigAsync(session, 3);
        Assert.True(second > first, $"version {second} after {first}");
        Assert.Equal(await NodePortsAsync(), grown.Select(n => n.Port).Order().ToList());

        await AssertAcceptedAsync(await PatchAsync("/v1/cache-clusters/disco", new { numNodes = 2 }));
        await WaitForStatusAsync("/v1/cache-clusters/disco", "available");
        var (third, shrunk) = await WaitForConfigAsync(session, 2);
        Assert.True(third > second, $"version {third} after {second}");
        Assert.Equal(await NodePortsAsync(), shrunk.Select(n => n.Port).Order().ToList());
        Assert.Equal("STORED", await session.CommandAsync("set after 0 0 2\r\nok\r\n"));

        // Deleted: the endpoint stops answering and its port is given back.
        Assert.Equal(HttpStatusCode.Accepted, (await Client.DeleteAsync("/v1/cache-clusters/disco")).StatusCode);
        await WaitUntilAsync(async () => (await Client.GetAsync("/v1/cache-clusters/disco")).StatusCode == HttpStatusCode.NotFound,
            TimeSpan.FromSeconds(30), () => "never deleted");
        Assert.Equal(0, await CountAsync(db => db.PortLeases.Where(l => l.NodeId.StartsWith("disco"))));
        using var listener = new TcpListener(endpoint);
        listener.Start();
    }

    private async Task<IPEndPoint> WaitForDiscoveryAsync()
    {
        IPEndPoint? endpoint = null;
        await WaitUntilAsync(async () =>
        {
            var now = await BodyAsync(await Client.GetAsync("/v1/cache-clusters/disco"));
            var port = (int)now["configurationEndpoint"]!["port"]!;
            endpoint = new IPEndPoint(IPAddress.Loopback, port);
            return now["nodes"]!.AsArray().All(n => (int?)n!["endpoint"]?["port"] != port);
        }, TimeSpan.FromSeconds(15), () => "the configuration endpoint never moved off the nodes");
        return endpoint!;
    }

    private async Task<List<int>> NodePortsAsync() =>
        (await BodyAsync(await Client.GetAsync("/v1/cache-clusters/disco")))["nodes"]!.AsArray()
            .Where(n => (string?)n!["status"] == "available").Select(n => (int)n!["endpoint"]!["port"]!).Order().ToList();

    private async Task<(long Version, List<(string Host, string Ip, int Port)> Nodes)> WaitForConfigAsync(Session session, int count)
    {
        (long Version, List<(string Host, string Ip, int Port)> Nodes) last = (0, []);
        await WaitUntilAsync(async () => (last = await session.ConfigGetClusterAsync()).Nodes.Count == count,
            TimeSpan.FromSeconds(15), () => $"config get cluster never listed {count} nodes: {last.Nodes.Count}");
        return last;
    }

    /// <summary>A memcached text-protocol client, one request at a time.</summary>
    private sealed class Session(NetworkStream stream)
    {
        private readonly StreamReader _reader = new(stream, Encoding.ASCII);

        public async Task<(long Version, List<(string Host, string Ip, int Port)> Nodes)> ConfigGetClusterAsync()
        {
            await stream.WriteAsync(Encoding.ASCII.GetBytes("config get cluster\r\n"));
            var header = (await _reader.ReadLineAsync())!.Split(' ');
            Assert.Equal(["CONFIG", "cluster", "0"], header[..3]);
            var body = new char[int.Parse(header[3], System.Globalization.CultureInfo.InvariantCulture)];
            await _reader.ReadBlockAsync(body);
            Assert.Equal("", await _reader.ReadLineAsync());
            Assert.Equal("END", await _reader.ReadLineAsync());
            var lines = new string(body).Split('\n');
            var nodes = lines[1].Split(' ', StringSplitOptions.RemoveEmptyEntries)
                .Select(n => n.Split('|')).Select(p => (p[0], p[1], int.Parse(p[2], System.Globalization.CultureInfo.InvariantCulture))).ToList();
            return (long.Parse(lines[0], System.Globalization.CultureInfo.InvariantCulture), nodes);
        }

        public async Task<string> CommandAsync(string request, bool untilEnd = false)
        {
            await stream.WriteAsync(Encoding.ASCII.GetBytes(request));
            var lines = new List<string>();
            do
                lines.Add((await _reader.ReadLineAsync())!);
            while (untilEnd && lines[^1] != "END");
            return string.Join("\r\n", lines);
        }
    }
}
