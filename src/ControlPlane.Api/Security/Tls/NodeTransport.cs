using System.Collections.Concurrent;
using System.Net.Security;
using System.Net.Sockets;
using StackExchange.Redis;

namespace ControlPlane.Api.Security.Tls;

/// <summary>
/// The one place that knows which node ports speak TLS, and how the control plane talks to them:
/// every connection it opens to a node (admin and mover multiplexers, heartbeats, Memcached probes,
/// the metrics collector and slow log through them, snapshots, discovery) asks here. The reconciler
/// tells it what every node's port speaks at each pass (<see cref="Set"/>) and when it changes a
/// node's mode online. Without an authority (runtime tests' bare nodes) every port is plain text.
/// </summary>
public sealed class NodeTransport(CertificateAuthority? authority = null)
{
    private readonly ConcurrentDictionary<string, bool> _tls = new();

    public void Set(string host, int port, bool tls)
    {
        if (tls)
            _tls[Key(host, port)] = true;
        else
            _tls.TryRemove(Key(host, port), out _);
    }

    public bool IsTls(string host, int port) => authority is not null && _tls.ContainsKey(Key(host, port));

    /// <summary>Cache key of a connection to the port: a port that changes between plain text and TLS gets a new connection.</summary>
    public string ConnectionKey(string host, int port) => IsTls(host, port) ? $"{host}:{port}/tls" : $"{host}:{port}";

    /// <summary>The multiplexer options for the node: TLS, the node's certificate checked against our authority.</summary>
    public ConfigurationOptions Apply(ConfigurationOptions options, string host, int port)
    {
        if (!IsTls(host, port))
            return options;
        options.Ssl = true;
        options.SslHost = host;
        // The handshake's round trips and crypto come on top of the connect: a busy host needs longer.
        options.ConnectTimeout = Math.Max(options.ConnectTimeout, 3000);
        options.CertificateValidation += (_, certificate, _, _) => authority!.Verifies(certificate);
        return options;
    }

    /// <summary>The stream over a connected socket: TLS for a TLS port (handshake done), the socket's own otherwise.</summary>
    public async Task<Stream> StreamAsync(Socket socket, string host, int port, CancellationToken ct)
    {
        var network = new NetworkStream(socket, ownsSocket: false);
        if (!IsTls(host, port))
            return network;
        var tls = new SslStream(network, leaveInnerStreamOpen: false);
        try
        {
            await tls.AuthenticateAsClientAsync(ClientOptions(host), ct);
            return tls;
        }
        catch
        {
            await tls.DisposeAsync();
            throw;
        }
    }

    /// <summary>For an <see cref="SslStream"/> of our own to a node: its certificate must be signed by our authority.</summary>
    public SslClientAuthenticationOptions ClientOptions(string host) => new()
    {
        TargetHost = host,
        RemoteCertificateValidationCallback = (_, certificate, _, _) => authority!.Verifies(certificate),
    };

    private static string Key(string host, int port) => $"{host}:{port}";
}
