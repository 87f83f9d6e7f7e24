namespace ControlPlane.Api.Engines;

/// <summary>The cheapest proof that a node answers (Redis PING, Memcached version); <see cref="Heartbeats"/> is the real one.</summary>
public interface IHeartbeats
{
    /// <summary>True when the node answered within the token's time; never throws for a node that does not.</summary>
    Task<bool> BeatAsync(string host, int port, bool memcached, CancellationToken ct);

    /// <summary>Closes the node's socket (the node went away, or its port now belongs to another).</summary>
    void Forget(string host, int port);
}
