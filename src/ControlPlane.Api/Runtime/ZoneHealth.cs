using ControlPlane.Api.Options;
using Docker.DotNet;
using Microsoft.Extensions.Options;

namespace ControlPlane.Api.Runtime;

/// <summary>Whether each availability zone's container engine answers a ping, within a short timeout.</summary>
public sealed class ZoneHealth(IOptions<ControlPlaneOptions> options)
{
    private static readonly TimeSpan PingTimeout = TimeSpan.FromSeconds(2);

    public async Task<IReadOnlyDictionary<string, bool>> ProbeAsync(CancellationToken ct)
    {
        var zones = options.Value.Zones;
        var results = await Task.WhenAll(zones.Select(z => PingAsync(z.DockerEndpoint, ct)));
        return zones.Select((z, i) => (z.Name, results[i])).ToDictionary(x => x.Name, x => x.Item2);
    }

    private static async Task<bool> PingAsync(string endpoint, CancellationToken ct)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(PingTimeout);
        try
        {
            using var client = new DockerClientBuilder().WithEndpoint(new Uri(endpoint)).Build();
            await client.System.PingAsync(timeout.Token);
            return true;
        }
        catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
        {
            return false;
        }
    }
}
