using ControlPlane.Api.Options;
using Docker.DotNet;
using Docker.DotNet.Models;
using Microsoft.Extensions.Options;

namespace ControlPlane.Api.Monitoring;

/// <summary>What the container engine says one container has used since it started.</summary>
public sealed record ContainerUsage(ulong CpuNanoseconds, ulong MemoryBytes);

/// <summary>
/// Container statistics, one-shot (no second sample, so no one-second wait per call), through a
/// client of its own per zone: the reconciler's clients stay free for the reconciler.
/// </summary>
public sealed class ContainerStatsReader : IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(3);

    private readonly Dictionary<string, DockerClient> _clients;

    public ContainerStatsReader(IOptions<ControlPlaneOptions> options) =>
        _clients = options.Value.Zones.ToDictionary(z => z.Name, z => new DockerClientBuilder().WithEndpoint(new Uri(z.DockerEndpoint)).Build());

    /// <summary>Null when the zone or the container does not answer.</summary>
    public async Task<ContainerUsage?> ReadAsync(string zone, string containerName, CancellationToken ct)
    {
        if (!_clients.TryGetValue(zone, out var client))
            return null;
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(Timeout);
        ContainerStatsResponse? stats = null;
        try
        {
            await client.Containers.GetContainerStatsAsync(containerName, new ContainerStatsParameters { Stream = false, OneShot = true },
                new Progress(s => stats = s), timeout.Token);
        }
        catch (Exception e) when (e is DockerApiException or HttpRequestException or IOException || (e is OperationCanceledException && !ct.IsCancellationRequested))
        {
            return null;
        }
        return stats?.CPUStats?.CPUUsage is { } cpu ? new ContainerUsage(cpu.TotalUsage, stats.MemoryStats?.Usage ?? 0) : null;
    }

    public void Dispose()
    {
        foreach (var client in _clients.Values)
            client.Dispose();
    }

    // Reports synchronously: System.Progress<T> would post to the thread pool and could run after the call returned.
    private sealed class Progress(Action<ContainerStatsResponse> report) : IProgress<ContainerStatsResponse>
    {
        public void Report(ContainerStatsResponse value) => report(value);
    }
}
