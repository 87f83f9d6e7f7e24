using ControlPlane.Api.Engines;
using ControlPlane.Runtime.Tests.Infrastructure;

namespace ControlPlane.Runtime.Tests;

public sealed class RedisClusterTests : NodeTest
{
    [Fact]
    public async Task Three_nodes_form_a_cluster_with_every_slot_served()
    {
        var ports = await StartClusterAsync(('a', "n0"), ('b', "n1"), ('c', "n2"));

        for (var i = 0; i < ports.Length; i++)
        {
            var state = await Redis.ProbeAsync(Loopback, ports[i], Ct);
            Assert.True(state!.ClusterEnabled);
            Assert.Equal("ok", state.ClusterState);
            Assert.Equal((16384, 16384, 3), (state.SlotsAssigned, state.SlotsOk, state.ClusterKnownNodes));
            Assert.Equal(await Redis.ClusterMyIdAsync(Loopback, ports[i], Ct), state.MyId);
        }

        var nodes = await Redis.ClusterNodesAsync(Loopback, ports[0], Ct);
        Assert.Equal(3, nodes.Count);
        for (var i = 0; i < ports.Length; i++)
        {
            var node = Assert.Single(nodes, n => n.Port == ports[i]);
            Assert.Equal((Loopback, ports[i] + RedisAdmin.ClusterBusOffset), (node.Host, node.BusPort));
            Assert.True(node.IsMaster && node.IsConnected && !node.IsFailed);
            Assert.Equal([EvenSplit[i]], node.Slots);
            Assert.Equal(i == 0, node.IsMyself);
        }
    }

    [Fact]
    public async Task A_cluster_replica_takes_over_its_master_slots_on_failover()
    {
        var ports = await StartClusterAsync(('a', "n0"), ('b', "n1"), ('c', "n2"));
        var replica = FreePorts.Next();
        await Zone('b').RunAsync(RedisSpec("n0-replica", replica, cluster: true), Ct);
        await UntilAnsweringAsync(replica);
        var masterId = await Redis.ClusterMyIdAsync(Loopback, ports[0], Ct);
        var replicaId = await Redis.ClusterMyIdAsync(Loopback, replica, Ct);
        await Redis.ClusterMeetAsync(Loopback, replica, Loopback, ports[0], Ct);
        // CLUSTER REPLICATE fails with "Unknown node" until gossip has brought the master's id.
        await Eventually.UntilAsync(() => Redis.ClusterNodesAsync(Loopback, replica, Ct),
            nodes => nodes.Any(n => n.Id == masterId && n.IsMaster && n.Slots.Count > 0), Deadline, "told about the master");

        await Redis.ClusterReplicateAsync(Loopback, replica, masterId, Ct);
        await Eventually.UntilAsync(() => Redis.ProbeAsync(Loopback, replica, Ct),
            s => s is { Role: RedisRole.Replica, MasterLinkUp: true }, Deadline, "replicating");

        await Redis.ClusterFailoverAsync(Loopback, replica, ClusterFailoverMode.Default, Ct);

        // The old master learns of its demotion by gossip, a moment after the replica takes over.
        var nodes = await Eventually.UntilAsync(() => Redis.ClusterNodesAsync(Loopback, ports[1], Ct),
            nodes => nodes.Any(n => n.Id == replicaId && n.IsMaster && n.Slots.SequenceEqual([EvenSplit[0]]))
                && nodes.Any(n => n.Id == masterId && n.IsReplica && n.MasterId == replicaId),
            Deadline, "seeing the replica serve the master's slots and the master follow it");
        Assert.Empty(nodes.Single(n => n.Id == masterId).Slots);
    }
}
