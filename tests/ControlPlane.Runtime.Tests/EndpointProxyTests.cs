using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using System.Text;
using ControlPlane.Api.Engines;
using ControlPlane.Api.Runtime;
using ControlPlane.Runtime.Tests.Infrastructure;
using Xunit.Abstractions;

namespace ControlPlane.Runtime.Tests;

public sealed class EndpointProxyTests(ITestOutputHelper output) : NodeTest
{
    private static string HaproxyImage => Environment.GetEnvironmentVariable("CONTROLPLANE_HAPROXY_IMAGE") is { Length: > 0 } image
        ? image
        : "controlplane/haproxy:2.6";

    [Fact]
    public async Task The_primary_port_reaches_the_primary_and_the_reader_port_a_replica()
    {
        var (primary, replica) = await PrimaryAndReplicaAsync();
        var (primaryEndpoint, readerEndpoint) = await ProxyAsync(('p', primary), ('r', replica));
        string primaryRunId = await RunIdAsync(primary), replicaRunId = await RunIdAsync(replica);
        await UntilSteadyAsync(async () => await RunIdAsync(primaryEndpoint) == primaryRunId && await RunIdAsync(readerEndpoint) == replicaRunId,
            "the endpoints on their nodes");

        Assert.Equal("OK", await CallAsync(primaryEndpoint, "SET", "greeting", "hello"));

        Assert.Equal("hello", await CallAsync(primary, "GET", "greeting"));
        await Eventually.UntilAsync(() => Redis.ProbeAsync(Loopback, replica, Ct), s => s is { KeyCount: 1 }, Deadline, "replicated");
        Assert.Equal("hello", await CallAsync(readerEndpoint, "GET", "greeting"));
        var role = Assert.IsType<object?[]>(await CallAsync(readerEndpoint, "ROLE"));
        Assert.Equal("slave", role[0]);
        // A replica refuses writes: the reader port must never be mistaken for the primary's.
        var refused = await Assert.ThrowsAsync<RespErrorException>(() => CallAsync(readerEndpoint, "SET", "greeting", "bye"));
        Assert.StartsWith("READONLY", refused.Message);
    }

    [Fact]
    public async Task After_a_failover_the_primary_port_reaches_the_promoted_replica()
    {
        var (primary, replica) = await PrimaryAndReplicaAsync();
        var (primaryEndpoint, _) = await ProxyAsync(('p', primary), ('r', replica));
        var primaryRunId = await RunIdAsync(primary);
        await UntilSteadyAsync(async () => await RunIdAsync(primaryEndpoint) == primaryRunId, "the primary port on the primary");
        Assert.Equal("OK", await CallAsync(primaryEndpoint, "SET", "before", "failover"));
        await Eventually.UntilAsync(() => Redis.ProbeAsync(Loopback, replica, Ct), s => s is { KeyCount: 1 }, Deadline, "replicated");

        // Fence, then promote (the order the reconciler keeps, so that two primaries never take writes).
        await Zone('a').RemoveAsync($"{Group}-p", Ct);
        await Redis.PromoteAsync(Loopback, replica, Ct);
        var switching = Stopwatch.StartNew();

        // Tight polling: the switch itself takes about one check interval.
        var attempts = 0;
        while (true)
        {
            attempts++;
            try
            {
                if (await CallAsync(primaryEndpoint, "SET", "after", "failover") is "OK")
                    break;
            }
            catch (Exception e) when (e is IOException or SocketException or RespErrorException or OperationCanceledException)
            {
                // Refused, closed by the proxy (no server up yet) or READONLY: not switched yet.
            }
            Assert.True(switching.Elapsed < Deadline, $"No write through the primary port within {Deadline.TotalSeconds} s of the promotion.");
            await Task.Delay(TimeSpan.FromMilliseconds(5), Ct);
        }
        output.WriteLine($"writes through the primary port resumed {switching.Elapsed.TotalMilliseconds:0} ms after the promotion ({attempts} attempts)");

        Assert.Equal("failover", await CallAsync(replica, "GET", "after"));
        Assert.Equal("failover", await CallAsync(primaryEndpoint, "GET", "before"));
        Assert.True(switching.Elapsed < TimeSpan.FromSeconds(2), $"switch took {switching.Elapsed}");
    }

    [Fact]
    public async Task Clients_of_a_demoted_primary_are_cut_and_reconnect_to_the_new_one()
    {
        var (primary, replica) = await PrimaryAndReplicaAsync();
        var (primaryEndpoint, _) = await ProxyAsync(('p', primary), ('r', replica));
        var primaryRunId = await RunIdAsync(primary);
        await UntilSteadyAsync(async () => await RunIdAsync(primaryEndpoint) == primaryRunId, "the primary port on the primary");
        await using var client = await RespConnection.OpenAsync(primaryEndpoint, Ct);
        Assert.Equal("PONG", await client.CallAsync(Ct, "PING"));

        // A switchover: both nodes stay up, the roles swap.
        await Redis.PromoteAsync(Loopback, replica, Ct);
        await Redis.ReplicaOfAsync(Loopback, primary, Loopback, replica, Ct);

        await Eventually.UntilAsync(async () =>
        {
            try
            {
                await client.CallAsync(Ct, "PING");
                return false;
            }
            catch (Exception e) when (e is IOException or SocketException)
            {
                return true;
            }
        }, cut => cut, Deadline, "cut by the proxy");
        var replicaRunId = await RunIdAsync(replica);
        await Eventually.UntilAsync(() => RunIdAsync(primaryEndpoint), id => id == replicaRunId, Deadline, "on the new primary");
        Assert.Equal("OK", await CallAsync(primaryEndpoint, "SET", "after", "switchover"));
        Assert.Equal("switchover", await CallAsync(replica, "GET", "after"));
    }

    [Fact]
    public async Task Without_a_replica_the_reader_port_reaches_the_primary()
    {
        var primary = FreePorts.Next();
        await Zone('a').RunAsync(RedisSpec("p", primary), Ct);
        await UntilAnsweringAsync(primary);
        var (primaryEndpoint, readerEndpoint) = await ProxyAsync(('p', primary));
        var primaryRunId = await RunIdAsync(primary);

        await UntilSteadyAsync(async () => await RunIdAsync(primaryEndpoint) == primaryRunId && await RunIdAsync(readerEndpoint) == primaryRunId,
            "both endpoints on the primary");

        Assert.Equal("OK", await CallAsync(primaryEndpoint, "SET", "greeting", "hello"));
        Assert.Equal("hello", await CallAsync(readerEndpoint, "GET", "greeting"));
    }

    /// <summary>A primary in zone a and its replica in zone b, in sync.</summary>
    private async Task<(int Primary, int Replica)> PrimaryAndReplicaAsync()
    {
        int primary = FreePorts.Next(), replica = FreePorts.Next();
        await Zone('a').RunAsync(RedisSpec("p", primary), Ct);
        await Zone('b').RunAsync(RedisSpec("r", replica), Ct);
        await UntilAnsweringAsync(primary, replica);
        await Redis.ReplicaOfAsync(Loopback, replica, Loopback, primary, Ct);
        await Eventually.UntilAsync(() => Redis.ProbeAsync(Loopback, replica, Ct), s => s is { MasterLinkUp: true }, Deadline, "linked to the primary");
        return (primary, replica);
    }

    /// <summary>The group's endpoint proxy in zone c, listening on both ports.</summary>
    private async Task<(int Primary, int Reader)> ProxyAsync(params (char Id, int Port)[] nodes)
    {
        int primaryPort = FreePorts.Next(), readerPort = FreePorts.Next();
        var labels = new Dictionary<string, string>
        {
            [Labels.Managed] = "true",
            [Labels.Kind] = "endpoint",
            [Labels.Group] = Group,
            [Labels.Node] = "endpoint",
            [Labels.Port] = $"{primaryPort}",
            [Labels.SpecHash] = "test",
        };
        var spec = EndpointProxy.Spec($"{Group}-endpoint", HaproxyImage, Group, Loopback, primaryPort, readerPort,
            [.. nodes.Select(n => new ProxyNode($"{Group}-{n.Id}", Loopback, n.Port))], labels);
        await Zone('c').RunAsync(spec, Ct);
        foreach (var port in new[] { primaryPort, readerPort })
            await Eventually.UntilAsync(() => ListensAsync(port), up => up, Deadline, $"the proxy listening on {port}");
        return (primaryPort, readerPort);
    }

    /// <summary>
    /// Until the condition has held for three check intervals in a row: at its start HAProxy takes
    /// every server for up until its first check, so one right answer could be luck.
    /// </summary>
    private static async Task UntilSteadyAsync(Func<Task<bool>> condition, string what)
    {
        var elapsed = Stopwatch.StartNew();
        var holding = new Stopwatch();
        while (holding.Elapsed < 3 * EndpointProxy.CheckInterval)
        {
            bool ok;
            try
            {
                ok = await condition();
            }
            catch (Exception e) when (e is IOException or SocketException or RespErrorException or OperationCanceledException)
            {
                ok = false;
            }
            if (!ok)
                holding.Reset();
            else if (!holding.IsRunning)
                holding.Start();
            if (elapsed.Elapsed >= Deadline)
                throw new TimeoutException($"Not {what} within {Deadline.TotalSeconds:0} s.");
            await Task.Delay(TimeSpan.FromMilliseconds(20));
        }
    }

    private static async Task<bool> ListensAsync(int port)
    {
        try
        {
            using var client = new TcpClient();
            await client.ConnectAsync(Loopback, port);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    private static Task<string> RunIdAsync(int port) => Resp.RunIdAsync(port);

    private static Task<object?> CallAsync(int port, params string[] args) => Resp.CallAsync(port, args);
}

internal sealed class RespErrorException(string message) : Exception(message);

/// <summary>
/// A bare RESP2 client: exactly one TCP connection, no handshake, no reconnect, no role detection,
/// so a test sees what the endpoint does to a connection (a full client library would hide it).
/// Replies: simple and bulk strings as string, integers as long, arrays as object?[], nil as null.
/// </summary>
internal sealed class RespConnection : IAsyncDisposable
{
    private readonly TcpClient _client;
    private readonly NetworkStream _stream;
    private readonly byte[] _buffer = new byte[64 * 1024];
    private int _start, _end;

    private RespConnection(TcpClient client)
    {
        _client = client;
        _stream = client.GetStream();
    }

    public static async Task<RespConnection> OpenAsync(int port, CancellationToken ct)
    {
        var client = new TcpClient { NoDelay = true };
        try
        {
            await client.ConnectAsync("127.0.0.1", port, ct);
            return new RespConnection(client);
        }
        catch
        {
            client.Dispose();
            throw;
        }
    }

    public async Task<object?> CallAsync(CancellationToken ct, params string[] args)
    {
        var request = new StringBuilder().Append(CultureInfo.InvariantCulture, $"*{args.Length}\r\n");
        foreach (var arg in args)
            request.Append(CultureInfo.InvariantCulture, $"${Encoding.UTF8.GetByteCount(arg)}\r\n{arg}\r\n");
        await _stream.WriteAsync(Encoding.UTF8.GetBytes(request.ToString()), ct);
        return await ReadAsync(ct);
    }

    public ValueTask DisposeAsync()
    {
        _client.Dispose();
        return ValueTask.CompletedTask;
    }

    private async Task<object?> ReadAsync(CancellationToken ct)
    {
        var line = await LineAsync(ct);
        var body = line[1..];
        switch (line[0])
        {
            case '+':
                return body;
            case '-':
                throw new RespErrorException(body);
            case ':':
                return long.Parse(body, CultureInfo.InvariantCulture);
            case '$':
                var length = int.Parse(body, CultureInfo.InvariantCulture);
                if (length < 0)
                    return null;
                await FillAsync(length + 2, ct);
                var text = Encoding.UTF8.GetString(_buffer, _start, length);
                _start += length + 2;
                return text;
            case '*':
                var count = int.Parse(body, CultureInfo.InvariantCulture);
                if (count < 0)
                    return null;
                var items = new object?[count];
                for (var i = 0; i < count; i++)
                    items[i] = await ReadAsync(ct);
                return items;
            default:
                throw new InvalidDataException($"Not a RESP2 reply: {line}");
        }
    }

    private async Task<string> LineAsync(CancellationToken ct)
    {
        while (true)
        {
            var end = _buffer.AsSpan(_start, _end - _start).IndexOf("\r\n"u8);
            if (end >= 0)
            {
                var line = Encoding.UTF8.GetString(_buffer, _start, end);
                _start += end + 2;
                return line;
            }
            await FillAsync(_end - _start + 1, ct);
        }
    }

    /// <summary>Reads until at least <paramref name="count"/> bytes are buffered; a closed connection is an IOException.</summary>
    private async Task FillAsync(int count, CancellationToken ct)
    {
        if (count > _buffer.Length)
            throw new InvalidDataException($"A reply of {count} bytes is more than this test client buffers.");
        if (_start + count > _buffer.Length)
        {
            Buffer.BlockCopy(_buffer, _start, _buffer, 0, _end - _start);
            _end -= _start;
            _start = 0;
        }
        while (_end - _start < count)
        {
            var read = await _stream.ReadAsync(_buffer.AsMemory(_end), ct);
            if (read == 0)
                throw new EndOfStreamException("The connection was closed.");
            _end += read;
        }
    }
}

public sealed class EndpointProxyConfigTests
{
    private static readonly ProxyNode[] Nodes =
    [
        new("orders-0001-002", "127.0.0.1", 7002),
        new("orders-0001-001", "127.0.0.1", 7001),
    ];

    private static string[] Lines(string config) =>
        [.. config.Split('\n').Select(l => l.Trim()).Where(l => l.Length > 0 && !l.StartsWith('#'))];

    [Fact]
    public void The_primary_backend_checks_every_node_for_the_master_role()
    {
        var lines = Lines(EndpointProxy.Config("orders", "127.0.0.1", 6379, 6380, Nodes));

        Assert.Contains("mode tcp", lines);
        var backend = Section(lines, "backend primary");
        Assert.Contains("option tcp-check", backend);
        Assert.Contains("tcp-check send \"PING\\r\\nINFO replication\\r\\nQUIT\\r\\n\"", backend);
        Assert.Contains("tcp-check expect string +PONG", backend);
        Assert.Contains("tcp-check expect string role:master", backend);
        Assert.Equal(
            ["server orders-0001-001 127.0.0.1:7001 check", "server orders-0001-002 127.0.0.1:7002 check"],
            backend.Where(l => l.StartsWith("server ", StringComparison.Ordinal)));
        var defaults = Section(lines, "defaults");
        Assert.Contains(defaults, l => l.StartsWith("default-server ", StringComparison.Ordinal)
            && l.Contains(" inter 50ms ") && l.Contains(" downinter 20ms ") && l.Contains(" fall 1 ") && l.Contains(" rise 1 ")
            && l.EndsWith(" on-marked-down shutdown-sessions", StringComparison.Ordinal));
        Assert.Contains("timeout client 1h", defaults);
        Assert.Contains("timeout server 1h", defaults);
        Assert.Contains("timeout connect 100ms", defaults);
        Assert.Contains("timeout check 1s", defaults);
    }

    [Fact]
    public void The_reader_backend_wants_a_linked_replica_and_falls_back_to_the_primary()
    {
        var lines = Lines(EndpointProxy.Config("orders", "127.0.0.1", 6379, 6380, Nodes));

        var backend = Section(lines, "backend reader");
        Assert.Contains("tcp-check expect string role:slave", backend);
        Assert.Contains("tcp-check expect string master_link_status:up", backend);
        Assert.DoesNotContain("tcp-check expect string role:master", backend);
        Assert.Equal(
        [
            "server orders-0001-001 127.0.0.1:7001 check",
            "server orders-0001-002 127.0.0.1:7002 check",
            "server orders-0001-001-as-primary 127.0.0.1:7001 backup track primary/orders-0001-001",
            "server orders-0001-002-as-primary 127.0.0.1:7002 backup track primary/orders-0001-002",
        ], backend.Where(l => l.StartsWith("server ", StringComparison.Ordinal)));
    }

    [Fact]
    public void Everything_binds_the_given_loopback_address_and_nothing_else()
    {
        var lines = Lines(EndpointProxy.Config("orders", "127.0.0.1", 6379, 6380, Nodes));

        Assert.Equal(["bind 127.0.0.1:6379", "bind 127.0.0.1:6380"], lines.Where(l => l.StartsWith("bind ", StringComparison.Ordinal)));
        Assert.Equal("default_backend primary", Assert.Single(Section(lines, "frontend primary"), l => l.StartsWith("default_backend", StringComparison.Ordinal)));
        Assert.Equal("default_backend reader", Assert.Single(Section(lines, "frontend reader"), l => l.StartsWith("default_backend", StringComparison.Ordinal)));
        Assert.DoesNotContain(lines, l => l.Contains("stats", StringComparison.OrdinalIgnoreCase) || l.StartsWith("listen", StringComparison.Ordinal));
    }

    [Fact]
    public void The_text_does_not_depend_on_the_order_of_the_nodes() =>
        Assert.Equal(
            EndpointProxy.Config("orders", "127.0.0.1", 6379, 6380, Nodes),
            EndpointProxy.Config("orders", "127.0.0.1", 6379, 6380, [.. Enumerable.Reverse(Nodes)]));

    [Fact]
    public void The_spec_runs_haproxy_in_the_foreground_with_its_config_in_place()
    {
        var labels = new Dictionary<string, string> { [Labels.Group] = "orders" };

        var spec = EndpointProxy.Spec("cp-orders-endpoint", "controlplane/haproxy:2.6", "orders", "127.0.0.1", 6379, 6380, Nodes, labels);

        Assert.Equal("cp-orders-endpoint", spec.Name);
        Assert.Equal("controlplane/haproxy:2.6", spec.Image);
        Assert.Equal(["haproxy", "-f", EndpointProxy.ConfigPath, "-db"], spec.Command);
        Assert.Same(labels, spec.Labels);
        Assert.Equal(64L << 20, spec.MemoryBytes);
        var file = Assert.Single(spec.Files!);
        Assert.Equal((EndpointProxy.ConfigPath, EndpointProxy.Config("orders", "127.0.0.1", 6379, 6380, Nodes)), (file.Key, file.Value));
    }

    [Theory]
    [InlineData("orders", "127.0.0.1", 6379, 6379, "n1")]     // one port for both endpoints
    [InlineData("orders", "127.0.0.1", 0, 6380, "n1")]
    [InlineData("orders x", "127.0.0.1", 6379, 6380, "n1")]   // would split the line
    [InlineData("orders", "127.0.0.1\n", 6379, 6380, "n1")]
    [InlineData("orders", "127.0.0.1", 6379, 6380, "n 1")]
    public void Input_that_would_break_the_config_is_refused(string group, string host, int primary, int reader, string node) =>
        Assert.Throws<ArgumentException>(() => EndpointProxy.Config(group, host, primary, reader, [new(node, "127.0.0.1", 7001)]));

    [Fact]
    public void A_group_needs_a_node_and_unique_node_ids()
    {
        Assert.Throws<ArgumentException>(() => EndpointProxy.Config("orders", "127.0.0.1", 6379, 6380, []));
        Assert.Throws<ArgumentException>(() => EndpointProxy.Config("orders", "127.0.0.1", 6379, 6380,
            [new("n1", "127.0.0.1", 7001), new("n1", "127.0.0.1", 7002)]));
    }

    /// <summary>The lines of one section: from its header to the next section header.</summary>
    private static List<string> Section(string[] lines, string header)
    {
        var start = Array.IndexOf(lines, header);
        Assert.True(start >= 0, $"no section {header}");
        string[] sections = ["global", "defaults", "frontend ", "backend ", "listen "];
        return [.. lines.Skip(start + 1).TakeWhile(l => !sections.Any(s => l.StartsWith(s, StringComparison.Ordinal)))];
    }
}
