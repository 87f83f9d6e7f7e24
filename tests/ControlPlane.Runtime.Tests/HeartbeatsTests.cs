using System.Diagnostics;
using ControlPlane.Api.Engines;
using ControlPlane.Runtime.Tests.Infrastructure;

namespace ControlPlane.Runtime.Tests;

/// <summary>
/// The heartbeats of quiet groups, on real nodes: every node beaten together (from the second
/// round on, on the poll thread over the sockets the first round opened), a hung node a miss when
/// the time is up without holding up the others, and a closed port a miss at once.
/// </summary>
public sealed class HeartbeatsTests : NodeTest
{
    [Fact]
    public async Task Nodes_answer_together_and_a_hung_node_is_a_miss_within_the_timeout()
    {
        var (first, second, cache, closed) = (FreePorts.Next(), FreePorts.Next(), FreePorts.Next(), FreePorts.Next());
        await Zone('a').RunAsync(RedisSpec("beat-a", first), Ct);
        await Zone('b').RunAsync(RedisSpec("beat-b", second), Ct);
        await Zone('c').RunAsync(MemcachedSpec("beat-c", cache), Ct);
        await UntilAnsweringAsync(first, second);
        await Eventually.UntilAsync(() => Memcached.StatsAsync(Loopback, cache, Ct), s => s is not null, Deadline, "memcached answering");
        await using var heartbeats = new Heartbeats();
        HeartbeatTarget[] nodes = [new(Loopback, first, false), new(Loopback, second, false), new(Loopback, cache, true), new(Loopback, closed, false)];
        var timeout = TimeSpan.FromMilliseconds(300);

        // The first round opens the sockets; the next ones go through the poll thread.
        for (var round = 0; round < 3; round++)
            Assert.Equal(new[] { true, true, true, false }, await BeatAsync(heartbeats, nodes, timeout));

        // Every client's commands wait for 3 s, PING included: the node is hung for that long.
        await Resp.CallAsync(second, "CLIENT", "PAUSE", "3000", "ALL");
        var clock = Stopwatch.StartNew();
        Assert.Equal(new[] { true, false, true, false }, await BeatAsync(heartbeats, nodes, timeout));
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(2), $"the round took {clock.Elapsed.TotalSeconds:0.0} s");

        // Once it answers again, a fresh socket hears it (the missed PONG went with the old one).
        await Eventually.UntilAsync(() => BeatAsync(heartbeats, nodes, timeout), answers => answers[1], Deadline, "the paused node answering again");
        Assert.Equal(new[] { true, true, true, false }, await BeatAsync(heartbeats, nodes, timeout));
    }

    private async Task<bool[]> BeatAsync(Heartbeats heartbeats, HeartbeatTarget[] nodes, TimeSpan timeout)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        deadline.CancelAfter(timeout);
        return await heartbeats.BeatAllAsync(nodes, timeout, deadline.Token);
    }
}
