using System.Net;
using StackExchange.Redis;

namespace ControlPlane.Api.Tests.Infrastructure;

/// <summary>
/// A client that writes a new key every few milliseconds and counts it as acknowledged only when a
/// replica confirmed it (WAIT 1). When a command fails it counts the failure, drops its connection
/// and asks again where the primary is. <see cref="SwitchAsync"/> opens a connection with another
/// token before it drops the old one, as a client rolling out a new token does. Bounded: it stops by
/// itself after two minutes.
/// </summary>
public sealed class AcknowledgedWriter : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new(TimeSpan.FromMinutes(2));
    private readonly List<string> _acknowledged = [];
    private readonly Func<Task<EndPoint>> _primary;
    private readonly bool _cluster;
    private readonly Action<ConfigurationOptions>? _configure;
    private readonly int _timeoutMs;
    private volatile string? _token;
    private volatile bool _failoverExpected;
    private ConnectionMultiplexer? _next;
    private int _failed;
    private int _failedDuringFailover;
    private Task _loop = Task.CompletedTask;

    private AcknowledgedWriter(Func<Task<EndPoint>> primary, bool cluster, Action<ConfigurationOptions>? configure, string? token, int timeoutMs) =>
        (_primary, _cluster, _configure, _token, _timeoutMs) = (primary, cluster, configure, token, timeoutMs);

    public IReadOnlyList<string> Acknowledged { get { lock (_acknowledged) return _acknowledged.ToList(); } }

    /// <summary>Commands that failed before <see cref="ExpectFailover"/>.</summary>
    public int Failed => Volatile.Read(ref _failed);

    /// <summary>Commands that failed after <see cref="ExpectFailover"/>.</summary>
    public int FailedDuringFailover => Volatile.Read(ref _failedDuringFailover);

    /// <param name="primary">Where to write; asked again after every failure.</param>
    /// <param name="cluster">A cluster-mode-enabled group: WAIT is asked of each key's own primary.</param>
    /// <param name="configure">Options of the writer's connections on top of the defaults (TLS, a login).</param>
    /// <param name="token">The password of the default user, if it needs one.</param>
    public static Task<AcknowledgedWriter> StartAsync(Func<Task<EndPoint>> primary, bool cluster = false, Action<ConfigurationOptions>? configure = null,
        string? token = null, int timeoutMs = 1000)
    {
        var writer = new AcknowledgedWriter(primary, cluster, configure, token, timeoutMs);
        writer._loop = Task.Run(writer.RunAsync);
        return Task.FromResult(writer);
    }

    /// <summary>A writer to one fixed endpoint (a group's primary endpoint), with 2 s timeouts (TLS handshakes under load).</summary>
    public static Task<AcknowledgedWriter> StartAsync(EndPoint endpoint, string? token, Action<ConfigurationOptions>? configure = null) =>
        StartAsync(() => Task.FromResult(endpoint), configure: configure, token: token, timeoutMs: 2000);

    /// <summary>Connects with the new token (which must already work), then writes on that connection only.</summary>
    public async Task SwitchAsync(string token)
    {
        _next = await ConnectAsync(token);
        _token = token;
    }

    /// <summary>From now on failures are the failover's (a client sees its connection to the old primary end).</summary>
    public void ExpectFailover() => _failoverExpected = true;

    private async Task<ConnectionMultiplexer> ConnectAsync(string? token)
    {
        var options = new ConfigurationOptions
        {
            EndPoints = { await _primary() }, ConnectTimeout = _timeoutMs, SyncTimeout = _timeoutMs, AsyncTimeout = _timeoutMs, AbortOnConnectFail = true,
        };
        _configure?.Invoke(options);
        if (token is not null)
            options.Password = token;
        return await ConnectionMultiplexer.ConnectAsync(options);
    }

    private async Task RunAsync()
    {
        var i = 0;
        ConnectionMultiplexer? connection = null;
        while (!_stop.IsCancellationRequested)
        {
            try
            {
                if (Interlocked.Exchange(ref _next, null) is { } next)
                {
                    if (connection is not null)
                        await connection.DisposeAsync();
                    connection = next;
                }
                connection ??= await ConnectAsync(_token);
                var db = connection.GetDatabase();
                var key = $"ack:{i++}";
                await db.StringSetAsync(key, "v");
                // WAIT counts the replicas that have this connection's writes: in a cluster, ask the key's own primary.
                var replicas = (long)await (_cluster
                    ? connection.GetServer(db.IdentifyEndpoint(key)!).ExecuteAsync("WAIT", 1, 1000)
                    : db.ExecuteAsync("WAIT", 1, 1000));
                if (replicas >= 1)
                    lock (_acknowledged)
                        _acknowledged.Add(key);
                await Task.Delay(5, _stop.Token);
            }
            catch (OperationCanceledException)
            {
                break;
            }
            catch (Exception e) when (e is RedisException or TimeoutException or InvalidOperationException or ObjectDisposedException)
            {
                Interlocked.Increment(ref _failoverExpected ? ref _failedDuringFailover : ref _failed);
                if (connection is not null)
                    await connection.DisposeAsync();
                connection = null;
                await Task.Delay(50);
            }
        }
        if (connection is not null)
            await connection.DisposeAsync();
    }

    /// <summary>Every acknowledged key is there, read through the client (the endpoint or the cluster).</summary>
    public static async Task AssertKeptAsync(ConnectionMultiplexer client, IReadOnlyList<string> acknowledged)
    {
        var db = client.GetDatabase();
        var missing = new List<string>();
        foreach (var key in acknowledged)
            if (!await db.KeyExistsAsync(key))
                missing.Add(key);
        Assert.True(missing.Count == 0, $"{missing.Count} of {acknowledged.Count} acknowledged writes are missing, e.g. {string.Join(", ", missing.Take(5))}");
    }

    public Task WaitForAsync(int count) => Eventually.UntilAsync(() => Task.FromResult(Acknowledged.Count >= count), TimeSpan.FromSeconds(45),
        () => $"the writer got only {Acknowledged.Count} of {count} acknowledged writes ({Failed} failed)", TimeSpan.FromMilliseconds(20));

    public async Task<IReadOnlyList<string>> StopAsync()
    {
        await _stop.CancelAsync();
        await _loop;
        return Acknowledged;
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _loop;
        _stop.Dispose();
        if (Interlocked.Exchange(ref _next, null) is { } next)
            await next.DisposeAsync();
    }
}
