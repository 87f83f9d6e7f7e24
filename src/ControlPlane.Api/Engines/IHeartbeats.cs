namespace ControlPlane.Api.Engines;

/// <summary>A node to beat: where it listens and which engine answers there.</summary>
public readonly record struct HeartbeatTarget(string Host, int Port, bool Memcached);

/// <summary>The cheapest proof that a node answers (Redis PING, Memcached version); <see cref="Heartbeats"/> is the real one.</summary>
public interface IHeartbeats
{
    /// <summary>True when the node answered within the token's time; never throws for a node that does not.</summary>
    Task<bool> BeatAsync(string host, int port, bool memcached, CancellationToken ct);

    /// <summary>
    /// Every node once, together: whether each answered within <paramref name="timeout"/> (the token
    /// carries the same time on the caller's clock). Never throws for a node that does not.
    /// </summary>
    async Task<bool[]> BeatAllAsync(IReadOnlyList<HeartbeatTarget> nodes, TimeSpan timeout, CancellationToken ct) =>
        await Task.WhenAll(nodes.Select(async n =>
        {
            try
            {
                return await BeatAsync(n.Host, n.Port, n.Memcached, ct);
            }
            catch (OperationCanceledException)
            {
                return false; // the time is up: a miss (the caller tells its own shutdown apart)
            }
        }));

    /// <summary>Closes the node's socket (the node went away, or its port now belongs to another).</summary>
    void Forget(string host, int port);
}
