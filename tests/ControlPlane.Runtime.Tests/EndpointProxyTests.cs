using System.Diagnostics;
using System.Globalization;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using ControlPlane.Api.Engines;
using ControlPlane.Api.Runtime;
using ControlPlane.Api.Security.Tls;
using ControlPlane.Domain;
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

    [Fact]
    public async Task With_tls_nodes_the_checks_take_a_node_signed_by_the_authority_and_no_other_and_clients_keep_their_own_tls()
    {
        using var ours = TestAuthority.Create("ours");
        using var stranger = TestAuthority.Create("stranger");
        var primary = FreePorts.Next();
        var plain = RedisSpec("p", primary);
        var transit = new NodeTransit(TransitEncryptionModes.Required, primary, null, ours.Issue($"{Group}-p"), ours.Pem);
        await Zone('a').RunAsync(plain with { Command = [.. plain.Command, .. transit.RedisArguments(cluster: false)], Files = transit.Files }, Ct);
        await Eventually.UntilAsync(() => TlsPingAsync(primary, ours), reply => reply.Answer == "+PONG", Deadline, "the TLS node answering");

        // Checked against the node's own authority: both ports serve it, and the session the client
        // verified is the node's (HAProxy forwards bytes; it has no certificate of its own here).
        var (primaryEndpoint, readerEndpoint) = await ProxyAsync(new HealthTls(ours.Pem), ('p', primary));
        await UntilSteadyAsync(async () => (await TlsPingAsync(primaryEndpoint, ours)).Answer == "+PONG"
            && (await TlsPingAsync(readerEndpoint, ours)).Answer == "+PONG", "both endpoints on the TLS node");
        Assert.Equal($"CN={Group}-p", (await TlsPingAsync(primaryEndpoint, ours)).Subject);
        // Plain text through the proxy reaches a TLS port: the node does not answer it.
        await Assert.ThrowsAnyAsync<Exception>(() => CallAsync(primaryEndpoint, "PING"));

        // Checked against another authority: the node's certificate does not verify, so it is never up.
        await Zone('c').RemoveAsync($"{Group}-endpoint", Ct);
        var (strangerEndpoint, _) = await ProxyAsync(new HealthTls(stranger.Pem), ('p', primary));
        await UntilSteadyAsync(async () => (await TlsPingAsync(strangerEndpoint, ours)).Answer is null, "the node down behind a proxy of another authority");
    }

    /// <summary>PING over TLS (verified against the authority): the answer (null when the connection ends without one) and the certificate's subject.</summary>
    private static async Task<(string? Answer, string? Subject)> TlsPingAsync(int port, TestAuthority authority)
    {
        string? subject = null;
        try
        {
            using var tcp = new TcpClient();
            await tcp.ConnectAsync(Loopback, port);
            await using var tls = new SslStream(tcp.GetStream());
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
            await tls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
            {
                TargetHost = Loopback,
                RemoteCertificateValidationCallback = (_, certificate, _, _) => (subject = certificate?.Subject) is not null && authority.Verifies(certificate!),
            }, timeout.Token);
            await tls.WriteAsync("PING\r\n"u8.ToArray(), timeout.Token);
            var buffer = new byte[64];
            var read = await tls.ReadAsync(buffer, timeout.Token);
            return (read == 0 ? null : Encoding.ASCII.GetString(buffer, 0, read).TrimEnd(), subject);
        }
        catch (Exception e) when (e is IOException or SocketException or AuthenticationException or OperationCanceledException)
        {
            return (null, subject);
        }
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

    /// <summary>The group's endpoint proxy in zone c, listening on both ports, serving these nodes (put in through its runtime API).</summary>
    private Task<(int Primary, int Reader)> ProxyAsync(params (char Id, int Port)[] nodes) => ProxyAsync(null, nodes);

    /// <param name="tls">The nodes speak TLS: so do the checks, verified with this authority.</param>
    private async Task<(int Primary, int Reader)> ProxyAsync(HealthTls? tls, params (char Id, int Port)[] nodes)
    {
        var ports = new ProxyPorts(FreePorts.Next(), FreePorts.Next(), FreePorts.Next());
        var labels = new Dictionary<string, string>
        {
            [Labels.Managed] = "true",
            [Labels.Kind] = "endpoint",
            [Labels.Group] = Group,
            [Labels.Node] = "endpoint",
            [Labels.Port] = $"{ports.Primary}",
            [Labels.SpecHash] = "test",
        };
        await Zone('c').RunAsync(EndpointProxy.Spec($"{Group}-endpoint", HaproxyImage, Group, Loopback, ports, labels, tls: tls), Ct);
        var changes = await ProxyAdmin.ServeAsync(Loopback, ports.Admin, [.. nodes.Select(n => new ProxyNode($"{Group}-{n.Id}", Loopback, n.Port))], Deadline, TimeProvider.System, Ct);
        Assert.Equal(nodes.Length, changes.Joined.Count);
        foreach (var port in new[] { ports.Primary, ports.Reader })
            await Eventually.UntilAsync(() => ListensAsync(port), up => up, Deadline, $"the proxy listening on {port}");
        return (ports.Primary, ports.Reader);
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
    private static readonly ProxyPorts Ports = new(6379, 6380, 6381);

    private static readonly ProxyNode[] Nodes =
    [
        new("orders-0001-002", "127.0.0.1", 7002),
        new("orders-0001-001", "127.0.0.1", 7001),
    ];

    private static string[] Lines(string config) =>
        [.. config.Split('\n').Select(l => l.Trim()).Where(l => l.Length > 0 && !l.StartsWith('#'))];

    private static IEnumerable<string> Servers(List<string> section) => section.Where(l => l.StartsWith("server ", StringComparison.Ordinal));

    [Fact]
    public void The_primary_backend_checks_every_slot_for_the_master_role_and_cuts_a_demoted_one()
    {
        var lines = Lines(EndpointProxy.Config("orders", "127.0.0.1", Ports));

        Assert.Contains("mode tcp", lines);
        var backend = Section(lines, "backend primary");
        Assert.Contains("option tcp-check", backend);
        Assert.Contains("tcp-check send \"PING\\r\\nINFO replication\\r\\nQUIT\\r\\n\"", backend);
        Assert.Contains("tcp-check expect string +PONG", backend);
        Assert.Contains("tcp-check expect string role:master", backend);
        Assert.Equal(
            Enumerable.Range(1, 6).Select(i => $"server s{i} 127.0.0.1:1 check disabled on-marked-down shutdown-sessions"),
            Servers(backend));
        var defaults = Section(lines, "defaults");
        Assert.Contains(defaults, l => l.StartsWith("default-server ", StringComparison.Ordinal)
            && l.Contains(" inter 50ms ") && l.Contains(" downinter 20ms ") && l.Contains(" fall 1") && l.Contains(" rise 1 "));
        Assert.Contains("timeout client 1h", defaults);
        Assert.Contains("timeout server 1h", defaults);
        Assert.Contains("timeout connect 100ms", defaults);
        Assert.Contains("timeout check 1s", defaults);
    }

    [Fact]
    public void With_a_health_login_every_check_authenticates_first()
    {
        var lines = Lines(EndpointProxy.Config("orders", "127.0.0.1", Ports, new HealthLogin("cp-health", "0123abcd")));

        foreach (var name in new[] { "backend primary", "backend reader" })
        {
            var backend = Section(lines, name);
            var send = backend.IndexOf("tcp-check send \"AUTH cp-health 0123abcd\\r\\nPING\\r\\nINFO replication\\r\\nQUIT\\r\\n\"");
            Assert.True(send >= 0, $"{name}: no AUTH in {string.Join(" | ", backend)}");
            Assert.Equal("tcp-check expect string +OK", backend[send + 1]);
            Assert.Equal("tcp-check expect string +PONG", backend[send + 2]);
        }
    }

    [Fact]
    public void With_tls_nodes_the_checks_speak_tls_verified_by_the_authority_and_client_traffic_passes_through()
    {
        var tls = new HealthTls("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n");
        var lines = Lines(EndpointProxy.Config("orders", "127.0.0.1", Ports, new HealthLogin("cp-health", "0123abcd"), tls));

        foreach (var name in new[] { "backend primary", "backend reader" })
        {
            var backend = Section(lines, name);
            var connect = backend.IndexOf("tcp-check connect ssl");
            Assert.True(connect >= 0, $"{name}: no TLS connect in {string.Join(" | ", backend)}");
            // The login goes over the TLS session, as on a plain-text node.
            Assert.StartsWith("tcp-check send \"AUTH cp-health 0123abcd\\r\\n", backend[connect + 1]);
            // HAProxy never terminates the clients' TLS: no server forwards with ssl of its own.
            Assert.DoesNotContain(Servers(backend), l => l.Split(' ').Contains("ssl"));
        }
        Assert.Contains(Section(lines, "defaults"), l => l.StartsWith("default-server ", StringComparison.Ordinal)
            && l.Contains(" fall 3 fastinter 20ms ", StringComparison.Ordinal)
            && l.EndsWith($" verify required ca-file {EndpointProxy.AuthorityPath}", StringComparison.Ordinal));
        Assert.DoesNotContain(lines, l => l.StartsWith("bind ", StringComparison.Ordinal) && l.Contains("ssl", StringComparison.Ordinal));

        var spec = EndpointProxy.Spec("cp-orders", "controlplane/haproxy:2.6", "orders", "127.0.0.1", Ports, new Dictionary<string, string>(), tls: tls);
        Assert.Equal(tls.AuthorityPem, spec.Files![EndpointProxy.AuthorityPath]);
        // Plain-text nodes: plain-text checks, and no verification settings.
        var plain = Lines(EndpointProxy.Config("orders", "127.0.0.1", Ports));
        Assert.Contains("tcp-check connect", plain);
        Assert.DoesNotContain(plain, l => l.Contains("ssl", StringComparison.Ordinal) || l.Contains("ca-file", StringComparison.Ordinal));
    }

    [Fact]
    public void The_reader_backend_wants_a_linked_replica_falls_back_to_the_primary_and_keeps_its_clients()
    {
        var lines = Lines(EndpointProxy.Config("orders", "127.0.0.1", Ports));

        var backend = Section(lines, "backend reader");
        Assert.Contains("tcp-check expect string role:slave", backend);
        Assert.Contains("tcp-check expect string master_link_status:up", backend);
        Assert.DoesNotContain("tcp-check expect string role:master", backend);
        Assert.Equal(
            [
                .. Enumerable.Range(1, 6).Select(i => $"server s{i} 127.0.0.1:1 check disabled"),
                .. Enumerable.Range(1, 6).Select(i => $"server s{i}-as-primary 127.0.0.1:1 backup track primary/s{i}"),
            ],
            Servers(backend));
        Assert.DoesNotContain(lines, l => l.Contains("on-marked-down", StringComparison.Ordinal) && !l.StartsWith("server s", StringComparison.Ordinal));
    }

    [Fact]
    public void The_configuration_names_no_node_so_membership_changes_no_container() =>
        Assert.DoesNotContain("700", EndpointProxy.Config("orders", "127.0.0.1", Ports), StringComparison.Ordinal);

    [Fact]
    public void Everything_binds_the_given_address_and_the_runtime_api_is_the_admin_port()
    {
        var lines = Lines(EndpointProxy.Config("orders", "127.0.0.1", Ports));

        Assert.Equal(["bind 127.0.0.1:6379", "bind 127.0.0.1:6380"], lines.Where(l => l.StartsWith("bind ", StringComparison.Ordinal)));
        Assert.Equal("stats socket ipv4@127.0.0.1:6381 level admin", Assert.Single(lines, l => l.Contains("stats", StringComparison.OrdinalIgnoreCase)));
        Assert.Equal("default_backend primary", Assert.Single(Section(lines, "frontend primary"), l => l.StartsWith("default_backend", StringComparison.Ordinal)));
        Assert.Equal("default_backend reader", Assert.Single(Section(lines, "frontend reader"), l => l.StartsWith("default_backend", StringComparison.Ordinal)));
        Assert.DoesNotContain(lines, l => l.StartsWith("listen", StringComparison.Ordinal));
    }

    [Fact]
    public void The_spec_runs_haproxy_in_the_foreground_with_its_config_in_place()
    {
        var labels = new Dictionary<string, string> { [Labels.Group] = "orders" };

        var spec = EndpointProxy.Spec("cp-orders-endpoint", "controlplane/haproxy:2.6", "orders", "127.0.0.1", Ports, labels);

        Assert.Equal("cp-orders-endpoint", spec.Name);
        Assert.Equal("controlplane/haproxy:2.6", spec.Image);
        Assert.Equal(["haproxy", "-f", EndpointProxy.ConfigPath, "-db"], spec.Command);
        Assert.Same(labels, spec.Labels);
        Assert.Equal(64L << 20, spec.MemoryBytes);
        var file = Assert.Single(spec.Files!);
        Assert.Equal((EndpointProxy.ConfigPath, EndpointProxy.Config("orders", "127.0.0.1", Ports)), (file.Key, file.Value));
    }

    [Theory]
    [InlineData("orders", "127.0.0.1", 6379, 6379, 6381)]     // one port for both endpoints
    [InlineData("orders", "127.0.0.1", 6379, 6380, 6380)]     // the admin port on an endpoint's
    [InlineData("orders", "127.0.0.1", 0, 6380, 6381)]
    [InlineData("orders x", "127.0.0.1", 6379, 6380, 6381)]   // would split the line
    [InlineData("orders", "127.0.0.1\n", 6379, 6380, 6381)]
    public void Input_that_would_break_the_config_is_refused(string group, string host, int primary, int reader, int admin) =>
        Assert.Throws<ArgumentException>(() => EndpointProxy.Config(group, host, new ProxyPorts(primary, reader, admin)));

    /// <summary>A fresh proxy's state, as HAProxy 2.6 prints it: every slot in maintenance (admin state 5), tracking ones inherited (2).</summary>
    private static string FreshState() => State(Enumerable.Range(1, 6).Select(i => ($"s{i}", "127.0.0.1", 1, false)).ToArray());

    /// <summary>A state where each slot (name, address, port, in service) is the same in both backends.</summary>
    private static string State(params (string Slot, string Address, int Port, bool Ready)[] slots)
    {
        var text = new System.Text.StringBuilder("1\n# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_iweight srv_time_since_last_change srv_check_status srv_check_result srv_check_health srv_check_state srv_agent_state bk_f_forced_id srv_f_forced_id srv_fqdn srv_port srvrecord srv_use_ssl srv_check_port srv_check_addr srv_agent_addr srv_agent_port\n");
        var id = 0;
        foreach (var (backend, suffix, tracking) in new[] { ("primary", "", false), ("reader", "", false), ("reader", "-as-primary", true) })
            foreach (var (slot, address, port, ready) in slots)
                text.Append(System.Globalization.CultureInfo.InvariantCulture,
                    $"3 {backend} {++id} {slot}{suffix} {address} 2 {(tracking ? (ready ? 0 : 2) : (ready ? 4 : 5))} 1 1 1 15 3 4 6 0 0 0 - {port} - 0 0 - - 0\n");
        return text.ToString();
    }

    private static ProxyChanges Changes(string state, params ProxyNode[] nodes) => EndpointProxy.Changes(EndpointProxy.ParseServersState(state), nodes);

    [Fact]
    public void Nodes_joining_a_fresh_proxy_take_the_first_slots_in_id_order()
    {
        var changes = Changes(FreshState(), Nodes);

        Assert.Equal([("orders-0001-001", "s1"), ("orders-0001-002", "s2")], changes.Joined.Select(j => (j.Node.Id, j.Slot)));
        Assert.Empty(changes.Left);
        Assert.Equal(
        [
            "set server primary/s1 addr 127.0.0.1 port 7001", "shutdown sessions server primary/s1", "set server primary/s1 state ready",
            "set server reader/s1 addr 127.0.0.1 port 7001", "shutdown sessions server reader/s1", "set server reader/s1 state ready",
            "set server reader/s1-as-primary addr 127.0.0.1 port 7001",
            "set server primary/s2 addr 127.0.0.1 port 7002", "shutdown sessions server primary/s2", "set server primary/s2 state ready",
            "set server reader/s2 addr 127.0.0.1 port 7002", "shutdown sessions server reader/s2", "set server reader/s2 state ready",
            "set server reader/s2-as-primary addr 127.0.0.1 port 7002",
        ], changes.Commands);
    }

    [Fact]
    public void A_proxy_that_serves_the_nodes_already_gets_no_command() =>
        Assert.Empty(Changes(State(("s1", "127.0.0.1", 7002, true), ("s2", "127.0.0.1", 7001, true), ("s3", "127.0.0.1", 1, false),
            ("s4", "127.0.0.1", 1, false), ("s5", "127.0.0.1", 1, false), ("s6", "127.0.0.1", 1, false)), Nodes).Commands);

    [Fact]
    public void A_node_that_leaves_is_cut_the_ones_that_stay_are_untouched_and_a_replacement_takes_the_free_slot()
    {
        var state = State(("s1", "127.0.0.1", 7001, true), ("s2", "127.0.0.1", 7002, true), ("s3", "127.0.0.1", 7003, true),
            ("s4", "127.0.0.1", 1, false), ("s5", "127.0.0.1", 1, false), ("s6", "127.0.0.1", 1, false));

        // 7001 failed and left; 7004 replaces it.
        var changes = Changes(state, new("n2", "127.0.0.1", 7002), new("n3", "127.0.0.1", 7003), new("n4", "127.0.0.1", 7004));

        Assert.Equal([("127.0.0.1:7001", "s1")], changes.Left);
        Assert.Equal([("n4", "s1")], changes.Joined.Select(j => (j.Node.Id, j.Slot)));
        Assert.DoesNotContain(changes.Commands, c => c.Contains("/s2", StringComparison.Ordinal) || c.Contains("/s3", StringComparison.Ordinal));
        // The old node's connections go before the slot points at the new one.
        var cut = changes.Commands.ToList().IndexOf("shutdown sessions server primary/s1");
        var moved = changes.Commands.ToList().IndexOf("set server primary/s1 addr 127.0.0.1 port 7004");
        Assert.InRange(cut, 0, moved - 1);
        Assert.Contains("set server primary/s1 state maint", changes.Commands);
        Assert.Contains("shutdown sessions server reader/s1-as-primary", changes.Commands);
        Assert.Equal("set server reader/s1 state ready", changes.Commands.Last(c => c.Contains("reader/s1 ", StringComparison.Ordinal)));
    }

    [Fact]
    public void Nodes_beyond_the_slots_wait_and_a_host_name_is_refused()
    {
        var many = Enumerable.Range(1, 7).Select(i => new ProxyNode($"n{i}", "127.0.0.1", 7000 + i)).ToArray();
        Assert.Equal(["n7"], Changes(FreshState(), many).Unplaced.Select(n => n.Id));
        Assert.Throws<ArgumentException>(() => Changes(FreshState(), new ProxyNode("n1", "redis.local", 7001)));
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

/// <summary>A throwaway certificate authority (ECDSA P-256, as the control plane's) that signs node certificates for 127.0.0.1.</summary>
internal sealed class TestAuthority : IDisposable
{
    private readonly X509Certificate2 _certificate;

    private TestAuthority(X509Certificate2 certificate) => _certificate = certificate;

    public string Pem => _certificate.ExportCertificatePem() + "\n";

    public static TestAuthority Create(string name)
    {
        // The key stays with the certificate (it signs node certificates), so it is not disposed here.
        var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={name} test authority", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        var now = DateTimeOffset.UtcNow;
        return new TestAuthority(request.CreateSelfSigned(now.AddMinutes(-5), now.AddDays(1)));
    }

    public NodeCertificate Issue(string nodeId)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={nodeId}", key, HashAlgorithmName.SHA256);
        var names = new SubjectAlternativeNameBuilder();
        names.AddIpAddress(System.Net.IPAddress.Loopback);
        request.CertificateExtensions.Add(names.Build());
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1"), new Oid("1.3.6.1.5.5.7.3.2")], false));
        var now = DateTimeOffset.UtcNow;
        using var certificate = request.Create(_certificate, now.AddMinutes(-5), now.AddDays(1), RandomNumberGenerator.GetBytes(8));
        return new NodeCertificate(certificate.ExportCertificatePem() + "\n", key.ExportPkcs8PrivateKeyPem() + "\n", now.AddDays(1), now.AddDays(1));
    }

    public bool Verifies(X509Certificate certificate)
    {
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(_certificate);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        using var leaf = X509CertificateLoader.LoadCertificate(certificate.GetRawCertData());
        return chain.Build(leaf);
    }

    public void Dispose() => _certificate.Dispose();
}
