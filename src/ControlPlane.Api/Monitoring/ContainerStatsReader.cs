using System.Net.Sockets;
using System.Text.Json;
using ControlPlane.Api.Options;
using Microsoft.Extensions.Options;

namespace ControlPlane.Api.Monitoring;

/// <summary>What the container engine says one container has used since it started.</summary>
public sealed record ContainerUsage(ulong CpuNanoseconds);

/// <summary>
/// Container statistics, one-shot (no second sample), over plain HTTP to each zone's engine with
/// clients of its own, so the reconciler's Docker clients stay free. The engine answers a stats
/// call at its next collection tick (up to a second later) whatever the load, so the calls of a
/// round run side by side and cost a second in all, not a second each; they are read fully
/// asynchronously, holding no thread while they wait.
/// </summary>
public sealed class ContainerStatsReader : IDisposable
{
    // one-shot needs API 1.41 (Docker 20.10); every engine since answers it.
    private const string ApiVersion = "v1.41";
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(5);

    private readonly Dictionary<string, HttpClient> _clients;

    public ContainerStatsReader(IOptions<ControlPlaneOptions> options) =>
        _clients = options.Value.Zones.ToDictionary(z => z.Name, z => Client(new Uri(z.DockerEndpoint)));

    /// <summary>Null when the zone or the container does not answer.</summary>
    public async Task<ContainerUsage?> ReadAsync(string zone, string containerName, CancellationToken ct)
    {
        if (!_clients.TryGetValue(zone, out var client))
            return null;
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(Timeout);
        try
        {
            using var response = await client.GetAsync($"{ApiVersion}/containers/{Uri.EscapeDataString(containerName)}/stats?stream=false&one-shot=true",
                HttpCompletionOption.ResponseHeadersRead, timeout.Token);
            if (!response.IsSuccessStatusCode)
                return null;
            await using var body = await response.Content.ReadAsStreamAsync(timeout.Token);
            using var stats = await JsonDocument.ParseAsync(body, cancellationToken: timeout.Token);
            return stats.RootElement.TryGetProperty("cpu_stats", out var cpu) && cpu.TryGetProperty("cpu_usage", out var usage)
                && usage.TryGetProperty("total_usage", out var total) && total.TryGetUInt64(out var nanoseconds)
                ? new ContainerUsage(nanoseconds)
                : null;
        }
        catch (Exception e) when (e is HttpRequestException or IOException or JsonException or SocketException
            || (e is OperationCanceledException && !ct.IsCancellationRequested))
        {
            return null;
        }
    }

    public void Dispose()
    {
        foreach (var client in _clients.Values)
            client.Dispose();
    }

    /// <summary>unix:///path/docker.sock or tcp://host:port, as the zones are configured.</summary>
    private static HttpClient Client(Uri endpoint)
    {
        if (endpoint.Scheme != "unix")
            return new HttpClient { BaseAddress = new UriBuilder("http", endpoint.Host, endpoint.Port).Uri, Timeout = System.Threading.Timeout.InfiniteTimeSpan };
        var path = endpoint.LocalPath;
        var handler = new SocketsHttpHandler
        {
            ConnectCallback = async (_, ct) =>
            {
                var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                try
                {
                    await socket.ConnectAsync(new UnixDomainSocketEndPoint(path), ct);
                    return new NetworkStream(socket, ownsSocket: true);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            },
        };
        return new HttpClient(handler) { BaseAddress = new Uri("http://docker/"), Timeout = System.Threading.Timeout.InfiniteTimeSpan };
    }
}
