using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using ControlPlane.Api.Data;
using ControlPlane.Api.Options;
using ControlPlane.Api.Runtime;
using ControlPlane.Api.Security.Tls;
using ControlPlane.Domain;
using Microsoft.Extensions.Options;

namespace ControlPlane.Api.Reconciliation;

/// <summary>
/// The configuration endpoint of every Memcached cluster, as ElastiCache serves it: a port leased on
/// the control plane's host where <c>config get cluster</c> answers the cluster's nodes (with a
/// version that grows whenever they change), so cluster clients find every node and follow
/// changes, and where every other command is passed to an available node, command by command.
/// The listener runs in the control-plane process that converges the cluster. A cluster with
/// transit encryption gets it over TLS, with a certificate of our authority, and its commands go to
/// the nodes over TLS.
/// </summary>
public sealed partial class DiscoveryEndpoints(PortAllocator ports, ZoneRegistry zones, IOptions<ControlPlaneOptions> options, ILogger<DiscoveryEndpoints> logger,
    CertificateAuthority? authority = null, NodeTransport? transport = null, TimeProvider? time = null) : IAsyncDisposable
{
    private readonly ConcurrentDictionary<string, Endpoint> _endpoints = new();

    public static string LeaseId(string clusterId) => $"{clusterId}-configuration";

    private string Host => options.Value.Endpoints.Host is { Length: > 0 } host ? host : zones.All.OrderBy(z => z.Name, StringComparer.Ordinal).First().Host;

    /// <summary>Leases the port (once), listens on it, and tells the listener the cluster's available nodes now.</summary>
    public async Task EnsureAsync(ControlPlaneDbContext db, CacheClusterEntity cluster, CancellationToken ct)
    {
        if (cluster.DiscoveryPort is null || cluster.DiscoveryHost != Host)
        {
            var host = Host;
            await ports.AllocateAsync(db, [(LeaseId(cluster.Id), host, p => (cluster.DiscoveryHost, cluster.DiscoveryPort) = (host, p))], ct);
            await db.SaveChangesAsync(ct);
        }
        var nodes = cluster.Nodes.Where(n => n.Status == NodeStatus.Available && n.Host is not null && n.Port is not null)
            .OrderBy(n => n.Id, StringComparer.Ordinal).Select(n => (n.Host!, n.Host!, n.Port!.Value)).ToList();
        var endpoint = _endpoints.GetOrAdd(cluster.Id, _ => new Endpoint());
        endpoint.Update(nodes);
        if (endpoint.Port == cluster.DiscoveryPort && (!cluster.TransitEncryption || !endpoint.CertificateDue((time ?? TimeProvider.System).GetUtcNow())))
            return;
        if (cluster.TransitEncryption && authority is not null)
        {
            await authority.LoadAsync(ct);
            var issued = authority.Issue(LeaseId(cluster.Id), cluster.DiscoveryHost!);
            endpoint.UseTls(X509Certificate2.CreateFromPem(issued.CertificatePem, issued.KeyPem), issued.RenewAt, transport);
            if (endpoint.Port == cluster.DiscoveryPort)
                return; // a renewed certificate: new clients get it, the listener stays
        }
        try
        {
            endpoint.Listen(cluster.DiscoveryHost!, cluster.DiscoveryPort!.Value, logger);
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.AddressAlreadyInUse)
        {
            // Another control plane on this host serves it; this one takes over once that one is gone.
            LogServedElsewhere(logger, cluster.Id, cluster.DiscoveryPort!.Value);
        }
    }

    /// <summary>A cluster being deleted: its listener stops and its port is given back with the caller's save.</summary>
    public async Task RemoveAsync(ControlPlaneDbContext db, string clusterId, CancellationToken ct)
    {
        if (_endpoints.TryRemove(clusterId, out var endpoint))
            endpoint.Stop();
        await PortAllocator.ReleaseOnSaveAsync(db, [LeaseId(clusterId)], ct);
    }

    /// <summary>Stops the listeners of clusters that are gone (deleted by another control plane).</summary>
    public void Retain(IReadOnlyCollection<string> clusterIds)
    {
        foreach (var id in _endpoints.Keys.Where(id => !clusterIds.Contains(id)).ToList())
            if (_endpoints.TryRemove(id, out var endpoint))
                endpoint.Stop();
    }

    public ValueTask DisposeAsync()
    {
        foreach (var endpoint in _endpoints.Values)
            endpoint.Stop();
        _endpoints.Clear();
        return ValueTask.CompletedTask;
    }

    private sealed class Endpoint
    {
        private readonly object _gate = new();
        private IReadOnlyList<(string Host, string Ip, int Port)> _nodes = [];
        private long _version;
        private TcpListener? _listener;
        private CancellationTokenSource _stop = new();
        private volatile X509Certificate2? _certificate;
        private DateTimeOffset _renewAt;
        private NodeTransport? _transport;

        public int? Port { get; private set; }

        public bool CertificateDue(DateTimeOffset now) => _certificate is null || now >= _renewAt;

        public void UseTls(X509Certificate2 certificate, DateTimeOffset renewAt, NodeTransport? transport) =>
            (_certificate, _renewAt, _transport) = (certificate, renewAt, transport);

        public void Update(IReadOnlyList<(string Host, string Ip, int Port)> nodes)
        {
            lock (_gate)
            {
                if (_version > 0 && _nodes.SequenceEqual(nodes))
                    return;
                _nodes = nodes;
                _version++;
            }
        }

        private (long Version, IReadOnlyList<(string Host, string Ip, int Port)> Nodes) Current()
        {
            lock (_gate)
                return (_version, _nodes);
        }

        public void Listen(string host, int port, ILogger logger)
        {
            Stop();
            var listener = new TcpListener(IPAddress.Parse(host), port);
            listener.Server.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
            try
            {
                listener.Start();
            }
            catch (SocketException)
            {
                listener.Stop();
                throw;
            }
            _stop = new CancellationTokenSource();
            (_listener, Port) = (listener, port);
            var stop = _stop.Token;
            _ = Task.Run(async () =>
            {
                while (!stop.IsCancellationRequested)
                {
                    TcpClient client;
                    try
                    {
                        client = await listener.AcceptTcpClientAsync(stop);
                    }
                    catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
                    {
                        return;
                    }
                    _ = Task.Run(() => ServeAsync(client, logger, stop), stop);
                }
            }, stop);
        }

        public void Stop()
        {
            _stop.Cancel();
            _listener?.Stop();
            (_listener, Port) = (null, null);
        }

        /// <summary>One client, one command at a time: config get cluster is answered here, the rest by a node.</summary>
        private async Task ServeAsync(TcpClient client, ILogger logger, CancellationToken stop)
        {
            using var _ = client;
            TcpClient? node = null;
            LineStream? upstream = null;
            Stream? upstreamStream = null;
            Stream clientStream = client.GetStream();
            try
            {
                if (_certificate is { } certificate)
                {
                    var tls = new SslStream(clientStream);
                    clientStream = tls;
                    using var handshake = CancellationTokenSource.CreateLinkedTokenSource(stop);
                    handshake.CancelAfter(TimeSpan.FromSeconds(10));
                    await tls.AuthenticateAsServerAsync(new SslServerAuthenticationOptions { ServerCertificate = certificate }, handshake.Token);
                }
                var downstream = new LineStream(clientStream);
                while (await downstream.ReadLineAsync(stop) is { } line)
                {
                    var words = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                    var command = words.Length > 0 ? words[0].ToLowerInvariant() : "";
                    if (command == "quit")
                        return;
                    if (command == "config" && words.Length == 3 && words[1] == "get" && words[2] == "cluster")
                    {
                        var (version, nodes) = Current();
                        await downstream.WriteAsync(MemcachedDiscovery.ConfigAnswer(version, nodes), stop);
                        continue;
                    }
                    if (upstream is null)
                    {
                        var (_, nodes) = Current();
                        if (nodes.Count == 0)
                        {
                            await downstream.WriteAsync("SERVER_ERROR no node is available\r\n", stop);
                            continue;
                        }
                        node = new TcpClient();
                        await node.ConnectAsync(IPAddress.Parse(nodes[0].Ip), nodes[0].Port, stop);
                        upstreamStream = _transport is null ? node.GetStream() : await _transport.StreamAsync(node.Client, nodes[0].Ip, nodes[0].Port, stop);
                        upstream = new LineStream(upstreamStream);
                    }
                    await upstream.WriteAsync(line + "\r\n", stop);
                    if (MemcachedDiscovery.HasDataBlock(command) && words.Length >= 5 && int.TryParse(words[4], NumberStyles.None, CultureInfo.InvariantCulture, out var length))
                        await upstream.WriteAsync(await downstream.ReadExactlyAsync(length + 2, stop), stop);
                    if (words[^1] == "noreply")
                        continue;
                    await RelayAnswerAsync(command, upstream, downstream, stop);
                }
            }
            catch (Exception e) when (e is IOException or SocketException or OperationCanceledException or ObjectDisposedException
                or System.Security.Authentication.AuthenticationException)
            {
                LogClientGone(logger, e.Message);
            }
            finally
            {
                if (upstreamStream is not null)
                    await upstreamStream.DisposeAsync();
                await clientStream.DisposeAsync();
                node?.Dispose();
            }
        }

        private static async Task RelayAnswerAsync(string command, LineStream upstream, LineStream downstream, CancellationToken stop)
        {
            while (await upstream.ReadLineAsync(stop) is { } answer)
            {
                await downstream.WriteAsync(answer + "\r\n", stop);
                if (!MemcachedDiscovery.AnswersWithList(command) || answer == "END" || answer.Contains("ERROR", StringComparison.Ordinal))
                    return;
                var words = answer.Split(' ');
                if (words[0] == "VALUE" && words.Length >= 4 && int.TryParse(words[3], NumberStyles.None, CultureInfo.InvariantCulture, out var length))
                    await downstream.WriteAsync(await upstream.ReadExactlyAsync(length + 2, stop), stop);
            }
        }
    }

    /// <summary>Lines (CRLF-terminated, at most 8 KiB) and raw blocks over one stream.</summary>
    private sealed class LineStream(Stream stream)
    {
        private readonly byte[] _buffer = new byte[16 * 1024];
        private int _start;
        private int _end;

        public async Task<string?> ReadLineAsync(CancellationToken ct)
        {
            while (true)
            {
                var at = Array.IndexOf(_buffer, (byte)'\n', _start, _end - _start);
                if (at >= 0)
                {
                    var line = Encoding.ASCII.GetString(_buffer, _start, at - _start).TrimEnd('\r');
                    _start = at + 1;
                    return line;
                }
                if (_end - _start > 8 * 1024)
                    throw new IOException("line too long");
                if (!await FillAsync(ct))
                    return null;
            }
        }

        public async Task<byte[]> ReadExactlyAsync(int count, CancellationToken ct)
        {
            var block = new byte[count];
            var copied = 0;
            while (copied < count)
            {
                if (_start == _end && !await FillAsync(ct))
                    throw new IOException("the stream ended inside a data block");
                var take = Math.Min(count - copied, _end - _start);
                Array.Copy(_buffer, _start, block, copied, take);
                (_start, copied) = (_start + take, copied + take);
            }
            return block;
        }

        public Task WriteAsync(string text, CancellationToken ct) => WriteAsync(Encoding.ASCII.GetBytes(text), ct);

        public async Task WriteAsync(byte[] bytes, CancellationToken ct) => await stream.WriteAsync(bytes, ct);

        private async Task<bool> FillAsync(CancellationToken ct)
        {
            if (_start > 0)
            {
                Array.Copy(_buffer, _start, _buffer, 0, _end - _start);
                (_end, _start) = (_end - _start, 0);
            }
            var read = await stream.ReadAsync(_buffer.AsMemory(_end), ct);
            _end += read;
            return read > 0;
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "The configuration endpoint of {ClusterId} (port {Port}) is served by another process")]
    private static partial void LogServedElsewhere(ILogger logger, string clusterId, int port);

    [LoggerMessage(Level = LogLevel.Debug, Message = "A configuration endpoint client went away: {Reason}")]
    private static partial void LogClientGone(ILogger logger, string reason);
}
