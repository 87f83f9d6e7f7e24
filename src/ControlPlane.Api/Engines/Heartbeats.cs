using System.Collections.Concurrent;
using System.Net.Sockets;
using System.Text;
using ControlPlane.Api.Security.Tls;

namespace ControlPlane.Api.Engines;

/// <summary>
/// The cheapest proof that a node answers: one short request on a socket kept open per node
/// (Redis: PING, Memcached: version) and one reply line. Any complete reply counts, an error too
/// (a node that refuses an unauthenticated PING still answers). It costs two system calls a node,
/// where the admin clients' full machinery costs many times that, which matters when an idle
/// control plane does nothing else four times a second for every node it runs.
/// A TLS node gets the same over TLS (<see cref="NodeTransport"/>).
/// </summary>
public sealed class Heartbeats(NodeTransport? transport = null) : IHeartbeats, IAsyncDisposable
{
    private static readonly byte[] RedisPing = "PING\r\n"u8.ToArray();
    private static readonly byte[] MemcachedVersion = "version\r\n"u8.ToArray();

    private readonly ConcurrentDictionary<string, Beat> _beats = new();

    /// <summary>True when the node answered within the token's time; never throws for a node that does not.</summary>
    public async Task<bool> BeatAsync(string host, int port, bool memcached, CancellationToken ct)
    {
        var tls = transport?.IsTls(host, port) == true;
        var beat = _beats.GetOrAdd($"{host}:{port}", _ => new Beat(host, port, tls ? transport : null));
        if (beat.Tls != tls)
        {
            // The port moved between plain text and TLS: a socket of the other kind.
            Forget(host, port);
            beat = _beats.GetOrAdd($"{host}:{port}", _ => new Beat(host, port, tls ? transport : null));
        }
        if (!beat.Gate.Wait(0))
            return false; // the last one has not answered yet: that is a miss
        try
        {
            return await beat.SendAsync(memcached ? MemcachedVersion : RedisPing, ct);
        }
        finally
        {
            beat.Gate.Release();
        }
    }

    /// <summary>Closes the node's socket (the node went away, or its port now belongs to another).</summary>
    public void Forget(string host, int port)
    {
        if (_beats.TryRemove($"{host}:{port}", out var beat))
            beat.Close();
    }

    public ValueTask DisposeAsync()
    {
        foreach (var beat in _beats.Values)
            beat.Close();
        _beats.Clear();
        return ValueTask.CompletedTask;
    }

    private sealed class Beat(string host, int port, NodeTransport? tls)
    {
        public SemaphoreSlim Gate { get; } = new(1, 1);
        public bool Tls => tls is not null;
        private readonly byte[] _buffer = new byte[256];
        private Socket? _socket;
        private Stream? _stream;
        private Task<(Socket Socket, Stream Stream)>? _handshake;

        /// <summary>How long a TLS handshake may take; it goes on past a missed beat and serves the next one.</summary>
        private static readonly TimeSpan HandshakeTimeout = TimeSpan.FromSeconds(5);

        public async Task<bool> SendAsync(byte[] request, CancellationToken ct)
        {
            try
            {
                if (_socket is null && tls is not null)
                {
                    // A handshake costs a few round trips and some crypto on both sides: on a busy host it
                    // may take longer than one beat, and starting it afresh at every beat would then miss forever.
                    _handshake ??= HandshakeAsync(tls);
                    try
                    {
                        (_socket, _stream) = await _handshake.WaitAsync(ct);
                    }
                    catch (OperationCanceledException) when (!_handshake.IsCompleted)
                    {
                        return false; // a miss; the handshake goes on for the next beat
                    }
                    _handshake = null;
                }
                else if (_socket is null)
                {
                    _socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                    await _socket.ConnectAsync(host, port, ct);
                }
                if (_stream is not null)
                    await _stream.WriteAsync(request, ct);
                else
                    await _socket.SendAsync(request, SocketFlags.None, ct);
                // One reply line; a node answers it in one segment on loopback, but read until the line ends.
                var read = 0;
                while (true)
                {
                    var n = _stream is not null
                        ? await _stream.ReadAsync(_buffer.AsMemory(read), ct)
                        : await _socket.ReceiveAsync(_buffer.AsMemory(read), SocketFlags.None, ct);
                    if (n == 0)
                        throw new SocketException((int)SocketError.ConnectionReset);
                    read += n;
                    if (_buffer.AsSpan(0, read).EndsWith("\r\n"u8))
                        return true;
                    if (read == _buffer.Length)
                        throw new InvalidDataException($"{host}:{port} answered more than a line: {Encoding.ASCII.GetString(_buffer)}");
                }
            }
            catch (Exception e) when (e is SocketException or OperationCanceledException or InvalidDataException or ObjectDisposedException
                or IOException or System.Security.Authentication.AuthenticationException)
            {
                // Whatever was half-read or is still coming belongs to this socket only: the next beat starts afresh.
                Close();
                return false;
            }
        }

        private async Task<(Socket Socket, Stream Stream)> HandshakeAsync(NodeTransport transport)
        {
            using var timeout = new CancellationTokenSource(HandshakeTimeout);
            var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                await socket.ConnectAsync(host, port, timeout.Token);
                return (socket, await transport.StreamAsync(socket, host, port, timeout.Token));
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        }

        public void Close()
        {
            // A handshake still under way is the node's old socket too: whatever it brings is closed.
            if (_handshake is { } pending)
            {
                _handshake = null;
                _ = pending.ContinueWith(t =>
                {
                    if (t.IsCompletedSuccessfully)
                    {
                        t.Result.Stream.Dispose();
                        t.Result.Socket.Dispose();
                    }
                }, TaskScheduler.Default);
            }
            _stream?.Dispose();
            _stream = null;
            _socket?.Dispose();
            _socket = null;
        }
    }
}
