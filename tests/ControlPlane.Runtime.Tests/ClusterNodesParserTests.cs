using ControlPlane.Api.Engines;

namespace ControlPlane.Runtime.Tests;

public sealed class ClusterNodesParserTests
{
    private const string Sample = """
        e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca 127.0.0.1:30001@40001,node-1 myself,master - 0 1426238316232 1 connected 0-5460 [5461-<-292f8b365bb7edb5e285caf0b7e6ddc7265d2f4f]
        292f8b365bb7edb5e285caf0b7e6ddc7265d2f4f 127.0.0.1:30002@40002 master - 0 1426238318243 2 connected 5461-10922 [5461->-e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca] 16000
        824fe116063bc5fcf9f4ffd895bc17aee7731ac3 ::1:30003@40003 master,fail - 1426238317239 1426238316000 3 disconnected
        07c37dfeb235213a872192d90877d0cd55635b91 127.0.0.1:30004@40004 slave e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca 0 1426238317239 1 connected
        6ec23923021cf3ffec47632106199cb7f496ce01 :0@0 handshake,noaddr - 0 0 0 disconnected

        """;

    [Fact]
    public void Parses_ids_addresses_flags_masters_and_link_state()
    {
        var nodes = ClusterNodesParser.Parse(Sample);

        Assert.Equal(5, nodes.Count);
        var me = nodes[0];
        Assert.Equal("e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca", me.Id);
        Assert.Equal(("127.0.0.1", 30001, 40001), (me.Host, me.Port, me.BusPort));
        Assert.True(me.IsMyself && me.IsMaster && me.IsConnected);
        Assert.Null(me.MasterId);
        Assert.Equal(1, me.ConfigEpoch);

        var replica = nodes[3];
        Assert.True(replica.IsReplica);
        Assert.Equal(me.Id, replica.MasterId);

        var failed = nodes[2];
        Assert.Equal(("::1", 30003), (failed.Host, failed.Port));
        Assert.True(failed.IsFailed);
        Assert.False(failed.IsConnected);

        var unknown = nodes[4];
        Assert.True(unknown.InHandshake);
        Assert.Equal(("", 0, 0), (unknown.Host, unknown.Port, unknown.BusPort));
    }

    [Fact]
    public void Parses_slot_ranges_single_slots_and_migrations()
    {
        var nodes = ClusterNodesParser.Parse(Sample);

        Assert.Equal([(0, 5460)], nodes[0].Slots);
        Assert.Equal(new SlotMigration(5461, Importing: true, "292f8b365bb7edb5e285caf0b7e6ddc7265d2f4f"), Assert.Single(nodes[0].Migrations));
        Assert.Equal([(5461, 10922), (16000, 16000)], nodes[1].Slots);
        Assert.Equal(new SlotMigration(5461, Importing: false, nodes[0].Id), Assert.Single(nodes[1].Migrations));
        Assert.Equal(5463, nodes[1].SlotCount);
        Assert.Empty(nodes[3].Slots);
    }
}
