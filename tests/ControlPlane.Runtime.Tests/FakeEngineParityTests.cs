using ControlPlane.Api.Engines;
using ControlPlane.Api.Runtime;
using ControlPlane.Api.World.InMemory;
using ControlPlane.Runtime.Tests.Infrastructure;
using StackExchange.Redis;

namespace ControlPlane.Runtime.Tests;

/// <summary>
/// The in-memory world's Redis answers as real Redis does: the same scenario, through the same
/// port (<see cref="IRedisAdmin"/>), against real nodes in Docker and against fake nodes of a
/// <see cref="MemoryWorld"/>, read the way the Observer reads it, must give the same picture
/// (node ids and ports replaced by each node's place in the scenario).
/// </summary>
public sealed class FakeEngineParityTests : NodeTest
{
    private readonly MemoryWorld _world = new(TimeProvider.System);

    [Fact]
    public async Task Replicaof_then_info_replication_reads_the_same()
    {
        var real = await ReplicationAsync(Redis, (node, port) => Zone('a').RunAsync(RedisSpec(node, port), Ct));
        var fake = await ReplicationAsync(new MemoryRedisAdmin(_world), (node, port) => _world.Runtime("az-a").RunAsync(RedisSpec(node, port), Ct));
        Assert.Equal(real, fake);
    }

    [Fact]
    public async Task A_cluster_made_with_meet_addslotsrange_and_replicate_reads_the_same_in_cluster_nodes()
    {
        var real = await ClusterAsync(Redis, (node, port) => Zone('a').RunAsync(RedisSpec(node, port, cluster: true), Ct));
        var fake = await ClusterAsync(new MemoryRedisAdmin(_world), (node, port) => _world.Runtime("az-a").RunAsync(RedisSpec(node, port, cluster: true), Ct));
        Assert.Equal(real, fake);
    }

    /// <summary>A primary and a replica (REPLICAOF), then a swap (FAILOVER TO): what each probe says after each.</summary>
    private async Task<List<string>> ReplicationAsync(IRedisAdmin redis, Func<string, int, Task> start)
    {
        var ports = new[] { FreePorts.Next(), FreePorts.Next() };
        for (var i = 0; i < ports.Length; i++)
            await start($"r{i}", ports[i]);
        await UntilAnsweringAsync(redis, ports);
        var seen = new List<string>();

        await redis.ReplicaOfAsync(Loopback, ports[1], Loopback, ports[0], Ct);
        await Eventually.UntilAsync(() => redis.ProbeAsync(Loopback, ports[0], Ct), s => s?.Replicas.Any(r => r.Online) == true, Deadline, "replica online");
        seen.Add(await DescribeAsync(redis, ports));

        await redis.FailoverToAsync(Loopback, ports[0], Loopback, ports[1], TimeSpan.FromSeconds(5), Ct);
        await Eventually.UntilAsync(() => redis.ProbeAsync(Loopback, ports[1], Ct), s => s?.Replicas.Any(r => r.Online) == true, Deadline, "swapped");
        seen.Add(await DescribeAsync(redis, ports));

        await redis.PromoteAsync(Loopback, ports[0], Ct);
        seen.Add(await DescribeAsync(redis, ports));
        return seen;
    }

    /// <summary>Three masters and a replica, made as the reconciler makes a cluster; every node's CLUSTER NODES, and the engine's refusals.</summary>
    private async Task<List<string>> ClusterAsync(IRedisAdmin redis, Func<string, int, Task> start)
    {
        var ports = Enumerable.Range(0, 4).Select(_ => FreePorts.Next()).ToArray();
        for (var i = 0; i < ports.Length; i++)
            await start($"c{i}", ports[i]);
        await UntilAnsweringAsync(redis, ports);
        var ids = new List<string>();
        foreach (var port in ports)
            ids.Add(await redis.ClusterMyIdAsync(Loopback, port, Ct));
        var seen = new List<string>();

        for (var i = 0; i < 3; i++)
            await redis.ClusterSetConfigEpochAsync(Loopback, ports[i], i + 1, Ct);
        foreach (var peer in ports.Skip(1))
            await redis.ClusterMeetAsync(Loopback, ports[0], Loopback, peer, Ct);
        foreach (var port in ports)
            await Eventually.UntilAsync(() => redis.ClusterNodesAsync(Loopback, port, Ct), v => v.Count(n => !n.InHandshake) == 4, Deadline, $"{port} knowing all");
        for (var i = 0; i < 3; i++)
            await redis.ClusterAddSlotsRangeAsync(Loopback, ports[i], [EvenSplit[i]], Ct);
        await Eventually.UntilAsync(() => redis.ClusterNodesAsync(Loopback, ports[3], Ct), v => v.Count(n => n.Slots.Count > 0) == 3, Deadline, "slots known");
        await redis.ClusterReplicateAsync(Loopback, ports[3], ids[0], Ct);
        foreach (var port in ports)
            await Eventually.UntilAsync(() => redis.ProbeAsync(Loopback, port, Ct),
                s => s is { ClusterState: "ok" } && (port != ports[3] || s.MasterLinkUp), Deadline, $"{port} ok");
        foreach (var port in ports)
            await Eventually.UntilAsync(() => redis.ClusterNodesAsync(Loopback, port, Ct), v => v.Count(n => n.IsReplica) == 1, Deadline, $"{port} seeing the replica");

        for (var i = 0; i < ports.Length; i++)
        {
            var view = await redis.ClusterNodesAsync(Loopback, ports[i], Ct);
            seen.Add($"view of {i}:\n" + string.Join("\n", view.Select(n =>
                $"{ids.IndexOf(n.Id)} {string.Join(',', n.Flags.Order())} {(n.MasterId is { } m ? ids.IndexOf(m) : "-")} epoch {n.ConfigEpoch} {n.LinkState} " +
                $"port {Array.IndexOf(ports, n.Port)} bus {n.BusPort - n.Port} slots {string.Join(' ', n.Slots)}").Order()));
            var state = await redis.ProbeAsync(Loopback, ports[i], Ct);
            seen.Add($"probe of {i}: {state!.Role} {state.ClusterState} known {state.ClusterKnownNodes} assigned {state.SlotsAssigned} ok {state.SlotsOk} myid {ids.IndexOf(state.MyId!)}");
        }

        // The refusals the reconciler relies on, word for word.
        seen.Add(await ErrorAsync(() => redis.ClusterSetConfigEpochAsync(Loopback, ports[0], 9, Ct)));
        seen.Add(await ErrorAsync(() => redis.ClusterReplicateAsync(Loopback, ports[1], new string('0', 40), Ct)).ContinueWith(t => t.Result.Replace(new string('0', 40), "<id>")));
        seen.Add(await ErrorAsync(() => redis.ClusterAddSlotsRangeAsync(Loopback, ports[1], [(0, 0)], Ct)));
        seen.Add(await ErrorAsync(() => redis.ClusterForgetAsync(Loopback, ports[1], ids[1], Ct)));
        seen.Add(await ErrorAsync(() => redis.ClusterForgetAsync(Loopback, ports[3], ids[0], Ct)));
        return seen;
    }

    private async Task<string> DescribeAsync(IRedisAdmin redis, int[] ports)
    {
        var lines = new List<string>();
        var states = new List<RedisNodeState>();
        foreach (var port in ports)
            states.Add((await redis.ProbeAsync(Loopback, port, Ct))!);
        for (var i = 0; i < ports.Length; i++)
        {
            var s = states[i];
            lines.Add($"{i}: {s.Role} of {(s.MasterPort is { } p ? Array.IndexOf(ports, p) : "-")} link {(s.MasterLinkUp ? "up" : "down")} replicas {s.ConnectedReplicas} " +
                $"[{string.Join(' ', s.Replicas.Select(r => $"{Array.IndexOf(ports, r.Port)}:{(r.Online ? "online" : "syncing")}"))}] cluster {s.ClusterEnabled}");
        }
        // Offsets differ in value between engines; what the Observer relies on is that a synced replica is not ahead of its primary.
        var primary = states.FindIndex(s => s.Role == RedisRole.Master && s.ConnectedReplicas > 0);
        if (primary >= 0)
            lines.Add($"replica offset <= primary offset: {states.Where(s => s.Role == RedisRole.Replica).All(s => s.ReplicationOffset <= states[primary].ReplicationOffset)}");
        return string.Join("\n", lines);
    }

    private static async Task<string> ErrorAsync(Func<Task> command)
    {
        try
        {
            await command();
            return "no error";
        }
        catch (EngineRefusedException e)
        {
            return e.Message;
        }
    }

    private async Task UntilAnsweringAsync(IRedisAdmin redis, int[] ports)
    {
        foreach (var port in ports)
            await Eventually.UntilAsync(() => redis.ProbeAsync(Loopback, port, Ct), s => s is { Loading: false }, Deadline, $"answering on {port}");
    }
}
