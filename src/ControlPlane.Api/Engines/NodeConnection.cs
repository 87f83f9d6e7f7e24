using StackExchange.Redis;

namespace ControlPlane.Api.Engines;

/// <summary>
/// One node's multiplexer, replaced when it has lost its node. <see cref="RedisAdmin"/> (short
/// timeouts) and <see cref="SlotMover"/> (long ones: a MIGRATE of a large key) each keep their own.
/// </summary>
internal sealed class NodeConnection(Func<string, int, CancellationToken, Task<ConnectionMultiplexer>> connect) : IAsyncDisposable
{
    private readonly SemaphoreSlim _gate = new(1, 1);
    private ConnectionMultiplexer? _multiplexer;
    private bool _disposed;

    public async Task<IServer> ServerAsync(string host, int port, CancellationToken ct)
    {
        await _gate.WaitAsync(ct);
        try
        {
            // Forgotten while we waited: connecting now would leak a multiplexer nobody disposes.
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_multiplexer is not null)
            {
                var server = _multiplexer.GetServer(host, port);
                if (server.IsConnected)
                    return server;
                // Its background reconnect backs off for seconds; a fresh connect is bounded by
                // ConnectTimeout and sees a restarted node at once.
                await _multiplexer.DisposeAsync();
                _multiplexer = null;
            }
            // Not cancellable once connecting: it ends within ConnectTimeout, and abandoning it would leak it.
            _multiplexer = await connect(host, port, ct);
            return _multiplexer.GetServer(host, port);
        }
        finally
        {
            _gate.Release();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _gate.WaitAsync();
        try
        {
            _disposed = true;
            if (_multiplexer is not null)
                await _multiplexer.DisposeAsync();
            _multiplexer = null;
        }
        finally
        {
            _gate.Release();
        }
    }
}
