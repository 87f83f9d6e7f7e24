using System.Net.Sockets;
using System.Text;
using ControlPlane.Api.Security.Tls;

namespace ControlPlane.Api.Engines;

/// <summary>Probes of Memcached nodes over its text protocol; a node that does not answer within a second is null.</summary>
public sealed class MemcachedAdmin(NodeTransport? transport = null) : IMemcachedAdmin
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(1);

    /// <summary>"1.6.18" from "VERSION 1.6.18", or null when the node does not answer.</summary>
    public async Task<string?> VersionAsync(string host, int port, CancellationToken ct)
    {
        var lines = await RequestAsync(host, port, "version", line => line.StartsWith("VERSION ", StringComparison.Ordinal), ct);
        return lines?[^1]["VERSION ".Length..];
    }

    /// <summary>The STAT lines of "stats" (curr_items, bytes, limit_maxbytes, evictions...), or null when the node does not answer.</summary>
    public async Task<IReadOnlyDictionary<string, string>?> StatsAsync(string host, int port, CancellationToken ct)
    {
        var lines = await RequestAsync(host, port, "stats", line => line == "END", ct);
        return lines?
            .Select(line => line.Split(' ', 3))
            .Where(parts => parts.Length == 3 && parts[0] == "STAT")
            .ToDictionary(parts => parts[1], parts => parts[2]);
    }

    /// <summary>Memcached's refresh_certs: it reads its certificate and key files again (a renewal). False when it did not answer OK.</summary>
    public async Task<bool> RefreshCertificatesAsync(string host, int port, CancellationToken ct) =>
        await RequestAsync(host, port, "refresh_certs", line => line == "OK", ct) is not null;

    // One connection per request: probes are rare and Memcached connections are cheap, so there is
    // no pool to keep healthy. Reads lines until `last` matches; null on any failure or timeout.
    private async Task<List<string>?> RequestAsync(
        string host, int port, string command, Func<string, bool> last, CancellationToken ct)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(Timeout);
        try
        {
            using var client = new TcpClient { NoDelay = true };
            await client.ConnectAsync(host, port, timeout.Token);
            await using var stream = transport is null ? client.GetStream() : await transport.StreamAsync(client.Client, host, port, timeout.Token);
            await stream.WriteAsync(Encoding.ASCII.GetBytes(command + "\r\n"), timeout.Token);

            using var reader = new StreamReader(stream, Encoding.ASCII);
            var lines = new List<string>();
            while (await reader.ReadLineAsync(timeout.Token) is { } line)
            {
                if (line == "ERROR" || line.StartsWith("CLIENT_ERROR", StringComparison.Ordinal)
                    || line.StartsWith("SERVER_ERROR", StringComparison.Ordinal))
                    return null;
                lines.Add(line);
                if (last(line))
                    return lines;
            }
            return null;
        }
        catch (Exception e) when (e is SocketException or IOException or System.Security.Authentication.AuthenticationException || (e is OperationCanceledException && !ct.IsCancellationRequested))
        {
            return null;
        }
    }
}
