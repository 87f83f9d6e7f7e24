using System.Diagnostics;
using ControlPlane.Api.Engines;
using ControlPlane.Runtime.Tests.Infrastructure;
using StackExchange.Redis;

namespace ControlPlane.Runtime.Tests;

/// <summary>
/// A node that stops answering fails the admin's command within the admin's own bound, not at the
/// client library's next heartbeat, which runs only every 10 s to keep idle nodes cheap.
/// </summary>
public sealed class RedisAdminTimeoutTests : NodeTest
{
    [Fact]
    public async Task A_command_to_a_node_that_stopped_answering_fails_within_the_admins_bound()
    {
        var port = FreePorts.Next();
        await Zone('a').RunAsync(RedisSpec("hung", port), Ct);
        await UntilAnsweringAsync(port);
        // The admin's connection is open and working before the node stops answering.
        await Redis.ConfigSetAsync(Loopback, port, "maxmemory-policy", "allkeys-lru", Ct);

        // Every client's commands now wait (the admin's too) for 8 s, as on a hung node.
        await Resp.CallAsync(port, "CLIENT", "PAUSE", "8000", "ALL");
        var clock = Stopwatch.StartNew();
        var failure = await Assert.ThrowsAsync<EngineUnreachableException>(() => Redis.ConfigSetAsync(Loopback, port, "maxmemory-policy", "noeviction", Ct));
        var waited = clock.Elapsed;

        // Our bound (a plain TimeoutException underneath), not the client's timeout (a RedisTimeoutException, raised only at its heartbeat).
        Assert.IsType<TimeoutException>(failure.InnerException);
        Assert.IsNotType<RedisTimeoutException>(failure.InnerException);
        Assert.True(waited < TimeSpan.FromSeconds(8), $"the command failed after {waited.TotalSeconds:0.0} s, when the pause ended");
    }
}
