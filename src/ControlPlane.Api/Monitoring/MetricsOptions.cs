using System.ComponentModel.DataAnnotations;

namespace ControlPlane.Api.Monitoring;

/// <summary>The "ControlPlane:Metrics" section: who may scrape, and how often the nodes are read.</summary>
public sealed class MetricsOptions
{
    public const string Section = "ControlPlane:Metrics";

    /// <summary>Lets a Prometheus server scrape /metrics without an API key (on a loopback-only host, say).</summary>
    public bool AllowAnonymous { get; set; }

    /// <summary>Reads every node's INFO (or stats) and its container's statistics; on by default where the reconciler runs.</summary>
    public bool? CollectorEnabled { get; set; }

    /// <summary>How often every node is read; CloudWatch's finest period for ElastiCache is 60 s, alerts want 15 s.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "00:05:00")]
    public TimeSpan Interval { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>Nodes read at once: the collector must never crowd out the reconciler's own probes.</summary>
    [Range(1, 64)]
    public int Concurrency { get; set; } = 4;
}
