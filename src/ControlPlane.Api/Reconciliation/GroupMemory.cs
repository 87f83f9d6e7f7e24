using ControlPlane.Api.Engines;

namespace ControlPlane.Api.Reconciliation;

/// <summary>
/// The memory a group's nodes use now, as their engines report it: the API asks before a scale-in,
/// so that it never talks to a node itself.
/// </summary>
public sealed class GroupMemory(IRedisAdmin redis)
{
    private static readonly TimeSpan ProbeTimeout = TimeSpan.FromSeconds(2);

    /// <summary>The memory in use summed over <paramref name="nodes"/>; or the id of the first node that did not answer, and no sum.</summary>
    public async Task<(long UsedBytes, string? Unmeasured)> UsedAsync(IEnumerable<(string NodeId, string Host, int Port)> nodes, CancellationToken ct)
    {
        var used = 0L;
        foreach (var (nodeId, host, port) in nodes)
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
            timeout.CancelAfter(ProbeTimeout);
            var state = await redis.ProbeAsync(host, port, timeout.Token);
            if (state is null)
                return (0, nodeId);
            used += state.UsedMemoryBytes;
        }
        return (used, null);
    }
}
