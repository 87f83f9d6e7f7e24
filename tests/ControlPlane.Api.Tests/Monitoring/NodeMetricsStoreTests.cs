using ControlPlane.Api.Monitoring;

namespace ControlPlane.Api.Tests.Monitoring;

/// <summary>The time series kept per node: minutes, periods, the 24-hour window. No I/O.</summary>
public sealed class NodeMetricsStoreTests
{
    private static readonly DateTimeOffset Start = new(2026, 11, 30, 10, 0, 0, TimeSpan.Zero);

    private static readonly NodeLabels Node = new("default", "orders", "0001", "orders-0001-001", "az-a", "redis")
    {
        StoredGroupId = "orders", StoredNodeId = "orders-0001-001",
    };

    private static void Read(NodeMetricsStore store, DateTimeOffset time, double items, double evictions) =>
        store.Record([new NodeSample(Node, time, new Dictionary<NodeMetric, double> { [NodeMetric.CurrItems] = items, [NodeMetric.Evictions] = evictions })],
            ControlPlaneState.Empty, time);

    [Fact]
    public void A_gauge_averages_its_minute_and_a_count_adds_it_up()
    {
        var store = new NodeMetricsStore();
        // Four reads a minute (15 s), two minutes.
        for (var i = 0; i < 8; i++)
            Read(store, Start.AddSeconds(15 * i), items: i < 4 ? 10 : 20, evictions: 1);

        Assert.Equal([(Start, 10.0), (Start.AddMinutes(1), 20.0)], store.Points("orders-0001-001", NodeMetric.CurrItems, Start, Start.AddMinutes(2), 60));
        Assert.Equal([(Start, 4.0), (Start.AddMinutes(1), 4.0)], store.Points("orders-0001-001", NodeMetric.Evictions, Start, Start.AddMinutes(2), 60));
        // One 5-minute period: the average of every read, the sum of every count.
        Assert.Equal([(Start, 15.0)], store.Points("orders-0001-001", NodeMetric.CurrItems, Start, Start.AddMinutes(2), 300));
        Assert.Equal([(Start, 8.0)], store.Points("orders-0001-001", NodeMetric.Evictions, Start, Start.AddMinutes(2), 300));
    }

    [Fact]
    public void Minutes_without_a_read_have_no_point_and_a_day_later_a_minute_is_reused()
    {
        var store = new NodeMetricsStore();
        Read(store, Start, 1, 0);
        Read(store, Start.AddMinutes(3), 3, 0);
        Assert.Equal([(Start, 1.0), (Start.AddMinutes(3), 3.0)], store.Points("orders-0001-001", NodeMetric.CurrItems, Start, Start.AddMinutes(5), 60));

        // The same slot of the ring, a day later: the old minute is gone, not added to the new one.
        var nextDay = Start.AddMinutes(NodeMetricsStore.MinutesKept);
        Read(store, nextDay, 7, 0);
        Assert.Equal([(nextDay, 7.0)], store.Points("orders-0001-001", NodeMetric.CurrItems, nextDay, nextDay.AddMinutes(1), 60));
        Assert.Empty(store.Points("orders-0001-001", NodeMetric.CurrItems, Start, Start.AddMinutes(1), 60));
    }

    [Fact]
    public void A_node_gone_for_a_day_is_forgotten_and_one_gone_for_less_is_kept()
    {
        var store = new NodeMetricsStore();
        Read(store, Start, 1, 0);
        store.Record([], ControlPlaneState.Empty, Start.AddHours(23));
        Assert.Single(store.NodesOf("orders"));
        Assert.Empty(store.Latest);
        store.Record([], ControlPlaneState.Empty, Start.AddHours(25));
        Assert.Empty(store.NodesOf("orders"));
    }
}
