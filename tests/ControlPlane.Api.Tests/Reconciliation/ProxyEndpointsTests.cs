using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;
using ControlPlane.Api.Runtime;
using ControlPlane.Api.Tests.Infrastructure;
using Docker.DotNet.Models;

namespace ControlPlane.Api.Tests.Reconciliation;

/// <summary>
/// The endpoints in proxy mode (one HAProxy container per group) through a real failover: the node
/// set changes through the proxy's runtime API, never by replacing its container.
/// </summary>
public sealed class ProxyEndpointsTests(PostgresFixture postgres) : ReconcilerTest(postgres)
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    protected override IReadOnlyDictionary<string, string?> ExtraSettings => new Dictionary<string, string?>
    {
        ["ControlPlane:Endpoints:Mode"] = "proxy",
    };

    [Fact]
    public async Task A_failover_and_its_replacement_keep_the_proxy_container_and_the_connections_to_nodes_that_stay()
    {
        await AssertAcceptedAsync(await PostAsync("/v1/replication-groups", new { id = "px", replicasPerShard = 2 }));
        var group = await WaitForStatusAsync("/v1/replication-groups/px", "available");
        var proxy = await ProxyContainerAsync();
        int primaryEndpoint = (int)group["primaryEndpoint"]!["port"]!, readerEndpoint = (int)group["readerEndpoint"]!["port"]!;
        var primary = Nodes(group).Single(n => (string?)n["role"] == "primary");
        var replicaPorts = Nodes(group).Where(n => (string?)n["role"] == "replica").Select(PortOf).ToHashSet();

        await using var toOldPrimary = await UntilConnectedToAsync(primaryEndpoint, port => port == PortOf(primary), "the primary port on the primary");
        // Least connections: a connection kept on each replica, so the next one goes to the other.
        var toReplicas = new Dictionary<int, RawRedis>();
        try
        {
            while (toReplicas.Count < replicaPorts.Count)
            {
                var connection = await UntilConnectedToAsync(readerEndpoint, port => replicaPorts.Contains(port) && !toReplicas.ContainsKey(port), "the reader port on each replica");
                toReplicas[await connection.PortAsync()] = connection;
            }

            using (var docker = Docker(Engines[(string)primary["availabilityZone"]!]))
                await docker.Containers.KillContainerAsync($"{Instance}-{primary["id"]}", new ContainerKillParameters { Signal = "SIGKILL" });
            var healed = await WaitForFullStrengthAsync((string)primary["id"]!);
            var newPrimary = Nodes(healed).Single(n => (string?)n["role"] == "primary");
            var replacement = Nodes(healed).Single(n => !replicaPorts.Contains(PortOf(n)));

            Assert.Equal(proxy, await ProxyContainerAsync());
            // The replicas stayed in the set (one of them is the primary now): their clients were not cut.
            foreach (var (port, connection) in toReplicas)
            {
                Assert.Equal("PONG", await connection.CallAsync("PING"));
                Assert.Equal(port, await connection.PortAsync());
            }
            // The old primary's client is cut (its node is gone), and new connections reach the new primary.
            await Assert.ThrowsAnyAsync<Exception>(() => toOldPrimary.CallAsync("PING"));
            await (await UntilConnectedToAsync(primaryEndpoint, port => port == PortOf(newPrimary), "the primary port on the new primary")).DisposeAsync();
            // The replacement joined the reader port, without a new container either.
            await (await UntilConnectedToAsync(readerEndpoint, port => port == PortOf(replacement), "the reader port on the replacement", keep: toReplicas.Values)).DisposeAsync();
            Assert.Equal(proxy, await ProxyContainerAsync());
        }
        finally
        {
            foreach (var connection in toReplicas.Values)
                await connection.DisposeAsync();
        }
    }

    private static List<JsonNode> Nodes(JsonObject group) => [.. group["shards"]![0]!["nodes"]!.AsArray().Select(n => n!)];

    private static int PortOf(JsonNode node) => (int)node["endpoint"]!["port"]!;

    /// <summary>The one proxy container of this class's control plane, as (zone, id); it must be running.</summary>
    private async Task<(string Zone, string Id)> ProxyContainerAsync()
    {
        var found = new List<(string, string)>();
        foreach (var (zone, engine) in Engines)
            foreach (var container in await OurContainersAsync(engine))
                if (container.Labels.TryGetValue(Labels.Kind, out var kind) && kind == "endpoint")
                {
                    Assert.Equal("running", container.State);
                    found.Add((zone, container.ID));
                }
        return Assert.Single(found);
    }

    private async Task<JsonObject> WaitForFullStrengthAsync(string gone)
    {
        JsonObject? last = null;
        await WaitUntilAsync(async () =>
        {
            last = await BodyAsync(await Client.GetAsync("/v1/replication-groups/px"));
            var all = Nodes(last);
            return (string?)last["status"] == "available" && all.Count == 3 && all.All(n => (string?)n["status"] == "available" && (string?)n["id"] != gone);
        }, TimeSpan.FromSeconds(60), () => $"px never came back to 3 available nodes: {last?.ToJsonString()}\n{EventsText()}");
        return last!;
    }

    /// <summary>
    /// Opens connections through the endpoint until one reaches a node whose port is wanted, within
    /// the deadline; the others are closed (or, with <paramref name="keep"/> given, kept open until
    /// then, so that least-connections balancing moves on to the next server).
    /// </summary>
    private static async Task<RawRedis> UntilConnectedToAsync(int endpoint, Func<int, bool> wanted, string what, IEnumerable<RawRedis>? keep = null)
    {
        var clock = Stopwatch.StartNew();
        var extra = new List<RawRedis>();
        try
        {
            while (true)
            {
                RawRedis? connection = null;
                try
                {
                    connection = await RawRedis.OpenAsync(endpoint);
                    if (wanted(await connection.PortAsync()))
                        return connection;
                    if (keep is not null && extra.Count < 10)
                    {
                        extra.Add(connection);
                        connection = null;
                    }
                }
                catch (Exception e) when (e is IOException or SocketException or InvalidDataException or OperationCanceledException)
                {
                    // Refused, or closed by the proxy with no server up yet.
                }
                if (connection is not null)
                    await connection.DisposeAsync();
                if (clock.Elapsed > Deadline)
                    Assert.Fail($"Not {what} within {Deadline.TotalSeconds:0} s.");
                await Task.Delay(50);
            }
        }
        finally
        {
            foreach (var connection in extra)
                await connection.DisposeAsync();
        }
    }
}

/// <summary>
/// One bare TCP connection speaking inline Redis commands: no reconnect, no handshake, so a test sees
/// exactly what the endpoint does to a connection (a client library would quietly reconnect).
/// </summary>
internal sealed class RawRedis : IAsyncDisposable
{
    private readonly TcpClient _client;
    private readonly NetworkStream _stream;

    private RawRedis(TcpClient client)
    {
        _client = client;
        _stream = client.GetStream();
    }

    public static async Task<RawRedis> OpenAsync(int port)
    {
        var client = new TcpClient { NoDelay = true };
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
            await client.ConnectAsync("127.0.0.1", port, timeout.Token);
            return new RawRedis(client);
        }
        catch
        {
            client.Dispose();
            throw;
        }
    }

    /// <summary>The port of the node at the other end (INFO server's tcp_port).</summary>
    public async Task<int> PortAsync()
    {
        var info = await CallAsync("INFO server");
        var line = info.Split("\r\n").FirstOrDefault(l => l.StartsWith("tcp_port:", StringComparison.Ordinal))
            ?? throw new InvalidDataException($"No tcp_port in {info}");
        return int.Parse(line["tcp_port:".Length..], CultureInfo.InvariantCulture);
    }

    /// <summary>A status or bulk reply's text; an error reply or a closed connection throws.</summary>
    public async Task<string> CallAsync(string inlineCommand)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        await _stream.WriteAsync(Encoding.ASCII.GetBytes(inlineCommand + "\r\n"), timeout.Token);
        var header = await LineAsync(timeout.Token);
        switch (header[0])
        {
            case '+':
                return header[1..];
            case '$':
                var length = int.Parse(header[1..], CultureInfo.InvariantCulture);
                var body = await BytesAsync(length + 2, timeout.Token);
                return Encoding.UTF8.GetString(body, 0, length);
            default:
                throw new InvalidDataException($"Reply to {inlineCommand}: {header}");
        }
    }

    public ValueTask DisposeAsync()
    {
        _client.Dispose();
        return ValueTask.CompletedTask;
    }

    private async Task<string> LineAsync(CancellationToken ct)
    {
        var line = new List<byte>();
        while (line.Count < 2 || line[^2] != '\r' || line[^1] != '\n')
            line.Add((await BytesAsync(1, ct))[0]);
        return Encoding.ASCII.GetString(line.ToArray(), 0, line.Count - 2);
    }

    private async Task<byte[]> BytesAsync(int count, CancellationToken ct)
    {
        var buffer = new byte[count];
        await _stream.ReadExactlyAsync(buffer, ct);
        return buffer;
    }
}
