using System.Collections.Concurrent;

namespace ControlPlane.Api.Monitoring;

/// <summary>
/// The collector's results: the latest read of every node (what /metrics shows) and, per node, the
/// last 24 hours at one point a minute (what the time series API answers). Each node keeps a ring of
/// 1440 minutes per metric (about 100 KB a node), so memory is bounded by the node count; a node gone
/// for a day is dropped.
/// </summary>
public sealed class NodeMetricsStore
{
    public const int MinutesKept = 24 * 60;

    private readonly ConcurrentDictionary<string, NodeSeries> _series = new();
    private volatile IReadOnlyList<NodeSample> _latest = [];
    private volatile ControlPlaneState _state = ControlPlaneState.Empty;

    public IReadOnlyList<NodeSample> Latest => _latest;

    public ControlPlaneState State => _state;

    /// <summary>Replaces the latest reads with one round's and adds them to each node's series.</summary>
    public void Record(IReadOnlyList<NodeSample> round, ControlPlaneState state, DateTimeOffset now)
    {
        foreach (var sample in round)
            _series.GetOrAdd(sample.Labels.StoredNodeId, _ => new NodeSeries()).Add(sample);
        _latest = round;
        _state = state;
        var live = round.Select(s => s.Labels.StoredNodeId).ToHashSet();
        foreach (var (node, series) in _series)
            if (!live.Contains(node) && now - series.LastSeen > TimeSpan.FromMinutes(MinutesKept))
                _series.TryRemove(node, out _);
    }

    /// <summary>The points of one node's metric from <paramref name="since"/> to <paramref name="until"/>, one per period (a multiple of 60 s).</summary>
    public IReadOnlyList<(DateTimeOffset Time, double Value)> Points(string storedNodeId, NodeMetric metric, DateTimeOffset since, DateTimeOffset until, int periodSeconds) =>
        _series.TryGetValue(storedNodeId, out var series) ? series.Points(metric, since, until, periodSeconds) : [];

    /// <summary>Labels of the nodes a resource has had series for, newest labels first; also nodes removed since.</summary>
    public IReadOnlyList<NodeLabels> NodesOf(string storedGroupId) =>
        _series.Values.Select(s => s.Labels).OfType<NodeLabels>().Where(l => l.StoredGroupId == storedGroupId).OrderBy(l => l.Node, StringComparer.Ordinal).ToList();

    /// <summary>One node's minutes: per metric a sum and a count per minute slot, and which minute each slot holds.</summary>
    private sealed class NodeSeries
    {
        private readonly Lock _lock = new();
        private readonly long[] _minute = new long[MinutesKept];
        private readonly Dictionary<NodeMetric, (float[] Sum, byte[] Count)> _values = [];

        public NodeLabels? Labels { get; private set; }
        public DateTimeOffset LastSeen { get; private set; }

        public void Add(NodeSample sample)
        {
            var minute = sample.Time.ToUnixTimeSeconds() / 60;
            var slot = (int)(minute % MinutesKept);
            lock (_lock)
            {
                Labels = sample.Labels;
                LastSeen = sample.Time;
                if (_minute[slot] != minute)
                {
                    _minute[slot] = minute;
                    foreach (var (sum, count) in _values.Values)
                        (sum[slot], count[slot]) = (0, 0);
                }
                foreach (var (metric, value) in sample.Values)
                {
                    if (!_values.TryGetValue(metric, out var ring))
                        _values[metric] = ring = (new float[MinutesKept], new byte[MinutesKept]);
                    ring.Sum[slot] += (float)value;
                    ring.Count[slot] = (byte)Math.Min(byte.MaxValue, ring.Count[slot] + 1);
                }
            }
        }

        /// <summary>Gauges average over the period, counts add up (CloudWatch's Average and Sum); a period with no read has no point.</summary>
        public IReadOnlyList<(DateTimeOffset, double)> Points(NodeMetric metric, DateTimeOffset since, DateTimeOffset until, int periodSeconds)
        {
            var points = new List<(DateTimeOffset, double)>();
            var minutesPerPeriod = periodSeconds / 60;
            var first = since.ToUnixTimeSeconds() / periodSeconds * periodSeconds / 60;
            var last = until.ToUnixTimeSeconds() / 60;
            lock (_lock)
            {
                if (!_values.TryGetValue(metric, out var ring))
                    return points;
                for (var start = first; start <= last; start += minutesPerPeriod)
                {
                    double sum = 0;
                    var count = 0;
                    for (var minute = start; minute < start + minutesPerPeriod && minute <= last; minute++)
                    {
                        var slot = (int)(minute % MinutesKept);
                        if (minute < 0 || _minute[slot] != minute || ring.Count[slot] == 0)
                            continue;
                        sum += ring.Sum[slot];
                        count += ring.Count[slot];
                    }
                    if (count > 0)
                        points.Add((DateTimeOffset.FromUnixTimeSeconds(start * 60), metric.Kind == MetricKind.Count ? sum : sum / count));
                }
            }
            return points;
        }
    }
}

/// <summary>The control plane's view of itself, refreshed with each collection round.</summary>
public sealed record ControlPlaneState(
    IReadOnlyDictionary<(string Engine, string Status), int> ResourcesByStatus,
    IReadOnlyDictionary<string, bool> ZonesReachable,
    IReadOnlyList<ShardState> Shards,
    IReadOnlyList<SnapshotAge> SnapshotAges)
{
    public static readonly ControlPlaneState Empty = new(new Dictionary<(string, string), int>(), new Dictionary<string, bool>(), [], []);
}

/// <summary>A shard as the reads show it: how many of its nodes answered as primary, and how many replicas it has.</summary>
public sealed record ShardState(string Tenant, string Group, string Shard, int Primaries, int Replicas);

/// <summary>A group with automatic snapshots (retention over 0): seconds since its newest available snapshot (or since its creation).</summary>
public sealed record SnapshotAge(string Tenant, string Group, double Seconds);
