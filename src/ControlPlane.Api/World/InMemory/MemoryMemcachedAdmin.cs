using ControlPlane.Api.Engines;

namespace ControlPlane.Api.World.InMemory;

/// <summary>
/// <see cref="IMemcachedAdmin"/> on the Memcached nodes of a <see cref="MemoryWorld"/>: null for a
/// node that does not answer (refused at once, hung after <see cref="MemcachedAdmin"/>'s second).
/// refresh_certs is not modelled (no transit encryption in this world): NotSupportedException.
/// </summary>
public sealed class MemoryMemcachedAdmin(MemoryWorld world) : IMemcachedAdmin
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(1);

    public async Task<string?> VersionAsync(string host, int port, CancellationToken ct) =>
        (await AskAsync(host, port, ct))?.Version;

    public async Task<IReadOnlyDictionary<string, string>?> StatsAsync(string host, int port, CancellationToken ct)
    {
        var node = await AskAsync(host, port, ct);
        if (node is null)
            return null;
        lock (world.Gate)
            return node.Stats();
    }

    public Task<bool> RefreshCertificatesAsync(string host, int port, CancellationToken ct) =>
        throw new NotSupportedException("refresh_certs (transit encryption) is not modelled by the in-memory world (ControlPlane:World=memory).");

    private async Task<MemcachedProcess?> AskAsync(string host, int port, CancellationToken ct)
    {
        await Task.Yield();
        if (world.CommandLatency > TimeSpan.Zero)
            await Task.Delay(world.CommandLatency, world.Time, ct);
        lock (world.Gate)
        {
            world.Called($"memcached {host}:{port}");
            if (world.Listening(host, port) is not MemcachedProcess node)
                return null;
            if (!node.Hung)
                return node;
        }
        await Task.Delay(Timeout, world.Time, ct);
        return null;
    }
}
