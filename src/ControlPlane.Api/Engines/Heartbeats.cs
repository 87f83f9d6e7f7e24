using System.Collections.Concurrent;
using System.Diagnostics;
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
/// <see cref="BeatAllAsync"/> beats many nodes from one thread: every request written, then one
/// poll over their sockets, instead of a task and a thread-pool wake-up for each reply.
/// </summary>
public sealed class Heartbeats(NodeTransport? transport = null) : IHeartbeats, IAsyncDisposable
{
    private static readonly byte[] RedisPing = "PING\r\n"u8.ToArray();
    private static readonly byte[] MemcachedVersion = "version\r\n"u8.ToArray();

    private readonly ConcurrentDictionary<string, Beat> _beats = new();
    private readonly Lazy<PollThread> _poller = new(() => new PollThread());

    /// <summary>True when the node answered within the token's time; never throws for a node that does not.</summary>
    public async Task<bool> BeatAsync(string host, int port, bool memcached, CancellationToken ct)
    {
        var beat = BeatOf(host, port);
        if (!beat.Gate.Wait(0))
            return false; // the last one has not answered yet: that is a miss
        try
        {
            return await beat.SendAsync(Request(memcached), ct);
        }
        finally
        {
            beat.Gate.Release();
        }
    }

    /// <summary>
    /// Every node once. Those with a plain-text socket open are beaten together on the poll thread;
    /// the rest (a socket to open, a TLS stream) one by one as <see cref="BeatAsync"/> does.
    /// </summary>
    public async Task<bool[]> BeatAllAsync(IReadOnlyList<HeartbeatTarget> nodes, TimeSpan timeout, CancellationToken ct)
    {
        var answers = new bool[nodes.Count];
        var polled = new List<(int Index, Beat Beat, byte[] Request)>();
        var alone = new List<Task>();
        for (var i = 0; i < nodes.Count; i++)
        {
            var (node, index) = (nodes[i], i);
            var beat = BeatOf(node.Host, node.Port);
            if (!beat.Pollable)
                alone.Add(BeatAloneAsync(index, node));
            else if (beat.Gate.Wait(0))
                polled.Add((index, beat, Request(node.Memcached)));
            // else: the last one has not answered yet, a miss
        }
        try
        {
            if (polled.Count > 0)
            {
                var heard = await _poller.Value.RunAsync(() => PollThread.Beat(polled.Select(p => (p.Beat, p.Request)).ToList(), timeout, ct));
                for (var i = 0; i < polled.Count; i++)
                    answers[polled[i].Index] = heard[i];
            }
        }
        finally
        {
            foreach (var (_, beat, _) in polled)
                beat.Gate.Release();
        }
        await Task.WhenAll(alone);
        return answers;

        async Task BeatAloneAsync(int index, HeartbeatTarget node) => answers[index] = await BeatAsync(node.Host, node.Port, node.Memcached, ct);
    }

    private static byte[] Request(bool memcached) => memcached ? MemcachedVersion : RedisPing;

    private Beat BeatOf(string host, int port)
    {
        var tls = transport?.IsTls(host, port) == true;
        var beat = _beats.GetOrAdd($"{host}:{port}", _ => new Beat(host, port, tls ? transport : null));
        if (beat.Tls == tls)
            return beat;
        // The port moved between plain text and TLS: a socket of the other kind.
        Forget(host, port);
        return _beats.GetOrAdd($"{host}:{port}", _ => new Beat(host, port, tls ? transport : null));
    }

    /// <summary>Closes the node's socket (the node went away, or its port now belongs to another).</summary>
    public void Forget(string host, int port)
    {
        if (_beats.TryRemove($"{host}:{port}", out var beat))
            beat.Close();
    }

    public ValueTask DisposeAsync()
    {
        if (_poller.IsValueCreated)
            _poller.Value.Dispose();
        foreach (var beat in _beats.Values)
            beat.Close();
        _beats.Clear();
        return ValueTask.CompletedTask;
    }

    private sealed class Beat(string host, int port, NodeTransport? tls)
    {
        public SemaphoreSlim Gate { get; } = new(1, 1);
        public bool Tls => tls is not null;

        /// <summary>A plain-text socket already open: it can be written and read from the poll thread.</summary>
        public bool Pollable => tls is null && _socket is { Connected: true };

        public Socket? Socket => _socket;

        /// <summary>
        /// Writes the request (a few bytes on an idle socket) without waiting. False, and closed, when
        /// the socket is broken or gone.
        /// </summary>
        public bool Send(Socket socket, byte[] request)
        {
            try
            {
                _read = 0;
                // A socket that cannot take the bytes now is a miss.
                return socket.Send(request, SocketFlags.None, out var error) == request.Length && error == SocketError.Success || Fail();
            }
            catch (ObjectDisposedException)
            {
                return false; // forgotten meanwhile
            }
        }

        /// <summary>Reads what arrived. Null while the line is incomplete; true when it is; false (closed) on a broken socket.</summary>
        public bool? Receive(Socket socket)
        {
            try
            {
                var n = socket.Receive(_buffer, _read, _buffer.Length - _read, SocketFlags.None, out var error);
                if (error == SocketError.WouldBlock)
                    return null;
                if (error != SocketError.Success || n == 0)
                    return Fail();
                _read += n;
                if (_buffer.AsSpan(0, _read).EndsWith("\r\n"u8))
                    return true;
                return _read == _buffer.Length ? Fail() : null;
            }
            catch (ObjectDisposedException)
            {
                return false; // forgotten meanwhile
            }
        }

        /// <summary>A miss: whatever is half-read or still coming belongs to this socket only, so it goes.</summary>
        public bool Fail()
        {
            Close();
            return false;
        }

        private int _read;
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
                    // Non-blocking: the poll thread writes and reads it without ever waiting on it.
                    _socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true, Blocking = false };
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

    /// <summary>One thread that beats a round of sockets: write to all, then poll until each answered or the time is up.</summary>
    private sealed class PollThread : IDisposable
    {
        private static readonly TimeSpan Gather = TimeSpan.FromMilliseconds(1);
        private readonly BlockingCollection<Action> _work = [];

        public PollThread()
        {
            new Thread(() =>
            {
                foreach (var work in _work.GetConsumingEnumerable())
                    work();
            })
            { IsBackground = true, Name = "heartbeats" }.Start();
        }

        public Task<T> RunAsync<T>(Func<T> work)
        {
            var done = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
            _work.Add(() =>
            {
                try
                {
                    done.SetResult(work());
                }
                catch (Exception e)
                {
                    done.SetException(e);
                }
            });
            return done.Task;
        }

        public static bool[] Beat(List<(Beat Beat, byte[] Request)> round, TimeSpan timeout, CancellationToken ct)
        {
            var clock = Stopwatch.StartNew();
            var heard = new bool[round.Count];
            var waiting = new Dictionary<Socket, int>();
            for (var i = 0; i < round.Count; i++)
            {
                if (round[i].Beat.Socket is { } socket && round[i].Beat.Send(socket, round[i].Request))
                    waiting[socket] = i;
            }
            var ready = new List<Socket>(waiting.Count);
            while (waiting.Count > 0 && clock.Elapsed < timeout && !ct.IsCancellationRequested)
            {
                ready.Clear();
                ready.AddRange(waiting.Keys);
                try
                {
                    Socket.Select(ready, null, null, (int)Math.Max(1, (timeout - clock.Elapsed).TotalMicroseconds));
                }
                catch (Exception e) when (e is SocketException or ObjectDisposedException)
                {
                    // A socket closed meanwhile (the node was forgotten): each is read on its own below.
                    ready.Clear();
                    ready.AddRange(waiting.Keys);
                }
                foreach (var socket in ready)
                {
                    var i = waiting[socket];
                    if (round[i].Beat.Receive(socket) is { } answered)
                    {
                        heard[i] = answered;
                        waiting.Remove(socket);
                    }
                }
                // The nodes answer one after another as the scheduler runs them: gathering them a
                // millisecond at a time wakes this thread a few times a round instead of once a reply.
                if (waiting.Count > 0 && ready.Count > 0 && clock.Elapsed + Gather < timeout)
                    Thread.Sleep(Gather);
            }
            foreach (var i in waiting.Values)
                round[i].Beat.Fail();
            return heard;
        }

        public void Dispose() => _work.CompleteAdding();
    }
}
