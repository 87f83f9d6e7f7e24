using ControlPlane.Api.Engines;

namespace ControlPlane.Api.World.InMemory;

/// <summary>
/// <see cref="IHeartbeats"/> on a <see cref="MemoryWorld"/>: a node listening answers at once, a port
/// nobody listens on is a miss at once, and a hung node is a miss when the caller's time is up.
/// </summary>
public sealed class MemoryHeartbeats(MemoryWorld world) : IHeartbeats
{
    public async Task<bool> BeatAsync(string host, int port, bool memcached, CancellationToken ct)
    {
        await Task.Yield();
        if (world.CommandLatency > TimeSpan.Zero)
            await Task.Delay(world.CommandLatency, world.Time, ct);
        lock (world.Gate)
        {
            world.Called($"beat {host}:{port}");
            if (world.Listening(host, port) is not { } node)
                return false;
            if (!node.Hung)
                return true;
        }
        try
        {
            await Task.Delay(Timeout.InfiniteTimeSpan, world.Time, ct);
        }
        catch (OperationCanceledException)
        {
            // As the real one: the token's time is up, a miss.
        }
        return false;
    }

    /// <summary>No socket is kept per node here.</summary>
    public void Forget(string host, int port)
    {
    }
}
