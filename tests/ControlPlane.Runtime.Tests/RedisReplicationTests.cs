using ControlPlane.Api.Engines;
using ControlPlane.Runtime.Tests.Infrastructure;

namespace ControlPlane.Runtime.Tests;

public sealed class RedisReplicationTests : NodeTest
{
    [Fact]
    public async Task A_replica_follows_its_primary_and_serves_its_keys()
    {
        int primary = FreePorts.Next(), replica = FreePorts.Next();
        await Zone('a').RunAsync(RedisSpec("primary", primary), Ct);
        await Zone('b').RunAsync(RedisSpec("replica", replica), Ct);
        await UntilAnsweringAsync(primary, replica);

        await Redis.ReplicaOfAsync(Loopback, replica, Loopback, primary, Ct);
        await Eventually.UntilAsync(() => Redis.ProbeAsync(Loopback, replica, Ct),
            s => s is { MasterLinkUp: true }, Deadline, "linked to the primary");
        // Written after the full sync, the key travels the replication stream and moves the offset.
        await DataCommandAsync(primary, "SET", "greeting", "hello");

        var state = await Eventually.UntilAsync(() => Redis.ProbeAsync(Loopback, replica, Ct),
            s => s is { KeyCount: 1 }, Deadline, "holding the primary's key");
        Assert.Equal(RedisRole.Replica, state!.Role);
        Assert.Equal((Loopback, primary), (state.MasterHost, state.MasterPort));
        Assert.True(state.ReplicationOffset > 0, $"replica offset {state.ReplicationOffset}");
        Assert.False(state.ClusterEnabled);
        Assert.Null(state.MyId);
        Assert.Equal("hello", (string?)await DataCommandAsync(replica, "GET", "greeting"));

        var primaryState = await Redis.ProbeAsync(Loopback, primary, Ct);
        Assert.Equal(RedisRole.Master, primaryState!.Role);
        Assert.Equal(1, primaryState.ConnectedReplicas);
        Assert.StartsWith("7.", primaryState.Version);
    }

    [Fact]
    public async Task A_promoted_replica_keeps_its_data_and_takes_writes()
    {
        int primary = FreePorts.Next(), replica = FreePorts.Next();
        await Zone('a').RunAsync(RedisSpec("primary", primary), Ct);
        await Zone('b').RunAsync(RedisSpec("replica", replica), Ct);
        await UntilAnsweringAsync(primary, replica);
        await Redis.ReplicaOfAsync(Loopback, replica, Loopback, primary, Ct);
        await DataCommandAsync(primary, "SET", "greeting", "hello");
        await Eventually.UntilAsync(() => Redis.ProbeAsync(Loopback, replica, Ct),
            s => s is { MasterLinkUp: true, KeyCount: 1 }, Deadline, "in sync with the primary");

        await Redis.PromoteAsync(Loopback, replica, Ct);

        var state = await Redis.ProbeAsync(Loopback, replica, Ct);
        Assert.Equal(RedisRole.Master, state!.Role);
        Assert.Equal(1, state.KeyCount);
        await DataCommandAsync(replica, "SET", "after", "promotion");
    }

    [Fact]
    public async Task A_probe_of_a_closed_port_returns_null() =>
        Assert.Null(await Redis.ProbeAsync(Loopback, FreePorts.Next(), Ct).WaitAsync(TimeSpan.FromSeconds(10)));

    [Fact]
    public async Task A_probe_of_a_removed_node_returns_null()
    {
        var port = FreePorts.Next();
        var id = await Zone('a').RunAsync(RedisSpec("n1", port), Ct);
        await UntilAnsweringAsync(port);

        await Zone('a').RemoveAsync(id, Ct);

        // The cached connection is the one that notices: no stale state may come out of it.
        await Eventually.UntilAsync(() => Redis.ProbeAsync(Loopback, port, Ct), s => s is null, Deadline, "unreachable");
    }
}
