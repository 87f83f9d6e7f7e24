using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace ControlPlane.Api.Monitoring;

/// <summary>
/// The control plane's own figures and every node's, as OpenTelemetry instruments that the
/// Prometheus exporter serves at /metrics. API requests and their latency come from ASP.NET Core's
/// own meter (http_server_request_duration_seconds); the rest is ours.
/// </summary>
public sealed class ControlPlaneMetrics
{
    public const string MeterName = "ControlPlane";

    /// <summary>Spans of the reconciler's work, children of the API request that asked for it.</summary>
    public static readonly ActivitySource Activities = new("ControlPlane.Reconciler");

    private readonly Histogram<double> _passDuration;
    private readonly Histogram<double> _convergeDuration;
    private readonly Counter<long> _actions;
    private readonly Counter<long> _failovers;
    private readonly Counter<long> _convergeFailures;
    private readonly Counter<long> _passFailures;
    private readonly Histogram<double> _fullPassDuration;

    public ControlPlaneMetrics(IMeterFactory meters, NodeMetricsStore store)
    {
        var meter = meters.Create(MeterName);
        double[] buckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
        _passDuration = meter.CreateHistogram("controlplane.reconcile.pass.duration", "s",
            "How long one reconcile pass took (listing, orphans, starting each group's convergence)",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = buckets });
        _convergeDuration = meter.CreateHistogram("controlplane.reconcile.converge.duration", "s",
            "How long converging one group or cluster took, by engine and result",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = buckets });
        _fullPassDuration = meter.CreateHistogram("controlplane.reconcile.full_pass.duration", "s",
            "How long one full pass took, from its listing until every convergence it started had ended",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = buckets });
        _actions = meter.CreateCounter<long>("controlplane.reconcile.actions", description: "Plan actions carried out, by kind and result");
        _failovers = meter.CreateCounter<long>("controlplane.failovers", description: "Failovers completed (automatic, test and planned switchovers)");
        _convergeFailures = meter.CreateCounter<long>("controlplane.reconcile.failures",
            description: "Convergences of a group or cluster that failed and will be retried");
        _passFailures = meter.CreateCounter<long>("controlplane.reconcile.pass.failures",
            description: "Reconcile passes that failed as a whole (the database or every zone unreachable)");

        meter.CreateObservableGauge("controlplane_resources", () => store.State.ResourcesByStatus.Select(r =>
            new Measurement<int>(r.Value, new("engine", r.Key.Engine), new("status", r.Key.Status))),
            description: "Replication groups (engine redis) and cache clusters (engine memcached) by status");
        meter.CreateObservableGauge("controlplane_zone_reachable", () => store.State.ZonesReachable.Select(z =>
            new Measurement<int>(z.Value ? 1 : 0, new KeyValuePair<string, object?>("availability_zone", z.Key))),
            description: "1 when the availability zone's container engine answers, else 0");
        meter.CreateObservableGauge("controlplane_shard_primaries", () => store.State.Shards.Select(s =>
            new Measurement<int>(s.Primaries, new("tenant", s.Tenant), new("group", s.Group), new("shard", s.Shard))),
            description: "Nodes of the shard that answered as primary at the last read (1 when healthy)");
        meter.CreateObservableGauge("controlplane_shard_replicas", () => store.State.Shards.Select(s =>
            new Measurement<int>(s.Replicas, new("tenant", s.Tenant), new("group", s.Group), new("shard", s.Shard))),
            description: "Replica nodes the shard has");
        meter.CreateObservableGauge("controlplane_group_snapshot_age_seconds", () => store.State.SnapshotAges.Select(s =>
            new Measurement<double>(s.Seconds, new("tenant", s.Tenant), new("group", s.Group))),
            description: "Groups with automatic snapshots: seconds since the newest available snapshot (since creation when there is none)");

        foreach (var metric in NodeMetric.All)
            meter.CreateObservableGauge(metric.FullName, () => store.Latest
                .Where(s => s.Values.ContainsKey(metric))
                .Select(s => new Measurement<double>(s.Values[metric], Tags(s.Labels))), description: metric.Help);
    }

    public void PassFinished(TimeSpan duration, bool succeeded)
    {
        _passDuration.Record(duration.TotalSeconds);
        // Counted from zero on, so that increase() sees the first failure too.
        _passFailures.Add(succeeded ? 0 : 1);
    }

    public void FullPassFinished(TimeSpan duration) => _fullPassDuration.Record(duration.TotalSeconds);

    public void Converged(string engine, bool succeeded, TimeSpan duration)
    {
        _convergeDuration.Record(duration.TotalSeconds, new("engine", engine), new("result", succeeded ? "success" : "failure"));
        _convergeFailures.Add(succeeded ? 0 : 1, new KeyValuePair<string, object?>("engine", engine));
    }

    public void ActionDone(string kind, bool succeeded) =>
        _actions.Add(1, new("kind", kind), new("result", succeeded ? "success" : "failure"));

    public void FailoverCompleted() => _failovers.Add(1);

    private static KeyValuePair<string, object?>[] Tags(NodeLabels l) =>
    [
        new("tenant", l.Tenant), new("group", l.Group), new("shard", l.Shard), new("node", l.Node),
        new("availability_zone", l.AvailabilityZone), new("engine", l.Engine),
    ];
}
