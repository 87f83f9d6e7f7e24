using System.ComponentModel.DataAnnotations;
using ControlPlane.Domain;

namespace ControlPlane.Api.Options;

/// <summary>An availability zone: a Docker engine and the address its nodes are reached on.</summary>
public sealed class AvailabilityZoneOptions
{
    [Required, RegularExpression("^[a-z][a-z0-9-]*$")]
    public string Name { get; set; } = "";
    /// <summary>unix:///var/run/docker.sock, or tcp://127.0.0.1:2376 with <see cref="DockerCertPath"/> (mutual TLS).</summary>
    [Required]
    public string DockerEndpoint { get; set; } = "unix:///var/run/docker.sock";
    [Required]
    public string Host { get; set; } = "127.0.0.1";
    /// <summary>For a tcp:// engine (required there): a folder with ca.pem, cert.pem and key.pem, as DOCKER_CERT_PATH (dockerd --tlsverify).</summary>
    public string? DockerCertPath { get; set; }
}

public sealed class NodeTypeOptions
{
    [Required]
    public string Name { get; set; } = "";
    [Range(16, 1024 * 1024)]
    public int MemoryMiB { get; set; }
    [Range(0.01, 256)]
    public double Cpus { get; set; }
}

public sealed class EngineVersionOptions
{
    [Required, RegularExpression("^(redis|memcached)$")]
    public string Engine { get; set; } = "";
    [Required]
    public string Version { get; set; } = "";
    [Required]
    public string Image { get; set; } = "";
}

/// <summary>The "ControlPlane" configuration section. Empty lists take the defaults below.</summary>
public sealed class ControlPlaneOptions
{
    public const string Section = "ControlPlane";

    [Range(1, Limits.MaxNodeQuota)]
    public int NodeQuota { get; set; } = Limits.DefaultNodeQuota;

    [Range(1, Limits.MaxShards)]
    public int ShardQuota { get; set; } = Limits.DefaultShardQuota;

    /// <summary>Nodes (Redis and Memcached together) one tenant may have.</summary>
    [Range(1, 100_000)]
    public int TenantNodeQuota { get; set; } = 300;

    /// <summary>An admin key (cpk_...) that works without being stored; deploy/up.sh names a file instead.</summary>
    public string? AdminKey { get; set; }

    /// <summary>A file (mode 0600) that holds the admin key.</summary>
    public string? AdminKeyFile { get; set; }

    /// <summary>
    /// Where Data Protection keeps the key ring that encrypts the node passwords and the API key
    /// secrets kept for Signature Version 4 (the ElastiCache query API); empty: in the database.
    /// deploy/up.sh puts it under its state folder, so that a database dump alone opens nothing.
    /// </summary>
    public string? KeyRingDir { get; set; }

    public List<AvailabilityZoneOptions> AvailabilityZones { get; set; } = [];
    public List<NodeTypeOptions> NodeTypes { get; set; } = [];
    public List<EngineVersionOptions> EngineVersions { get; set; } = [];

    public ReconcilerOptions Reconciler { get; set; } = new();

    /// <summary>How the primary and reader endpoints of cluster-mode-disabled groups forward (kernel NAT or a proxy).</summary>
    public EndpointOptions Endpoints { get; set; } = new();

    /// <summary>The proxy image behind the primary and reader endpoints of cluster-mode-disabled groups (proxy mode).</summary>
    [Required]
    public string EndpointImage { get; set; } = "controlplane/haproxy:2.6";

    /// <summary>The folder of the snapshot store (.rdb files). deploy/up.sh puts it under its state folder.</summary>
    [Required]
    public string SnapshotDir { get; set; } = "/var/lib/controlplane/snapshots";

    /// <summary>How long a node's TLS certificate is valid; it is renewed, on the running node, after two thirds of it.</summary>
    public TimeSpan NodeCertificateLifetime { get; set; } = TimeSpan.FromDays(90);

    /// <summary>How long events are kept.</summary>
    public TimeSpan EventRetention { get; set; } = TimeSpan.FromDays(14);

    /// <summary>
    /// Nodes of every group and cluster together (ElastiCache's nodes-per-customer quota), so one
    /// client cannot take every port of the range with groups that each stay under NodeQuota.
    /// </summary>
    [Range(1, 100_000)]
    public int TotalNodeQuota { get; set; } = 1000;

    /// <summary>How long an Idempotency-Key replays its first answer; after that the key is forgotten.</summary>
    public TimeSpan IdempotencyKeyLifetime { get; set; } = TimeSpan.FromHours(24);

    public HttpLimitsOptions Http { get; set; } = new();

    public IReadOnlyList<AvailabilityZoneOptions> Zones =>
        AvailabilityZones.Count > 0 ? AvailabilityZones : [new AvailabilityZoneOptions { Name = "az-a" }];

    public Limits Limits => new(NodeQuota, ShardQuota);

    public Catalog Catalog => new(
        NodeTypes.Count > 0
            ? NodeTypes.Select(t => new NodeType(t.Name, t.MemoryMiB, t.Cpus)).ToList()
            : [new("cache.micro", 128, 0.25), new("cache.small", 512, 0.5), new("cache.medium", 1024, 1), new("cache.large", 4096, 2)],
        EngineVersions.Count > 0
            ? EngineVersions.Select(v => new EngineVersion(v.Engine, v.Version, v.Image)).ToList()
            : [new(Catalog.Redis, "7.0", "controlplane/redis:7.0"), new(Catalog.Memcached, "1.6", "controlplane/memcached:1.6"),
                new(Catalog.Valkey, "8.0", "controlplane/valkey:8.0")],
        Zones.Select(z => z.Name).ToList());
}

/// <summary>What one request may weigh, and how many a client may send.</summary>
public sealed class HttpLimitsOptions
{
    /// <summary>
    /// The largest legal body is a create with 500 shards laid out by hand (every slot listed alone
    /// is about 100 KB); 512 KiB leaves room for escapes and whitespace and refuses at once what is
    /// larger than any legal request.
    /// </summary>
    [Range(1024, 64 * 1024 * 1024)]
    public int MaxRequestBodyBytes { get; set; } = 512 * 1024;

    /// <summary>Path and query; longer answers 414.</summary>
    [Range(256, 64 * 1024)]
    public int MaxUrlBytes { get; set; } = 8 * 1024;

    /// <summary>All header names and values together; more answers 431.</summary>
    [Range(1024, 256 * 1024)]
    public int MaxRequestHeadersBytes { get; set; } = 32 * 1024;

    /// <summary>
    /// Requests per second each client (remote address) may make to /v1, on average; 0 turns rate
    /// limiting off. Generous by default: CI pipelines poll.
    /// </summary>
    [Range(0, 1_000_000)]
    public int RequestsPerSecond { get; set; } = 200;

    /// <summary>How many requests a client may send at once above the average (the token bucket's size).</summary>
    [Range(1, 1_000_000)]
    public int Burst { get; set; } = 2000;
}

public sealed class ReconcilerOptions
{
    /// <summary>Off for API-only processes and tests; the API then only stores desired state.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>Marks this control plane's containers, so several control planes can share an engine.</summary>
    [Required, RegularExpression("^[a-z][a-z0-9-]{0,19}$")]
    public string Instance { get; set; } = "cp";

    /// <summary>Node ports come from this range; the cluster bus takes port + 10000, so the range ends below 55536.</summary>
    [Range(1024, 55535)]
    public int PortRangeStart { get; set; } = 7000;

    [Range(1024, 55535)]
    public int PortRangeEnd { get; set; } = 7999;

    /// <summary>A periodic pass catches what events missed; health probes run on it too.</summary>
    public TimeSpan PassInterval { get; set; } = TimeSpan.FromMilliseconds(250);

    /// <summary>
    /// A group is quiet when its last convergence found nothing to do; until something wakes the
    /// reconciler (an API write, a container event) the passes leave it to heartbeats (one PING per
    /// node) and converge only the groups with work. The whole observation of every group (listings,
    /// INFO, CLUSTER NODES, the database) still runs this often. Zero observes everything every pass.
    /// It finds only what sends no event and answers its PING (a replica whose link broke, a setting
    /// changed by hand); failures are found by the heartbeats and the engine's events, whatever this
    /// is. At 5 s it was about 1% of a core per 100 idle nodes, at 10 s half that (deploy/bench/scale.sh).
    /// </summary>
    public TimeSpan QuietPassInterval { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// How often a quiet group's nodes are PINGed. A miss gets the group observed in full at the next
    /// pass, so with the defaults a hung node is still failed within about 1.5 s; each beat costs
    /// every node of the control plane a round trip, which is most of an idle control plane's CPU.
    /// </summary>
    public TimeSpan HeartbeatInterval { get; set; } = TimeSpan.FromMilliseconds(500);

    /// <summary>A probe not answered within this counts as one failure (a loopback PING takes well under a millisecond).</summary>
    public TimeSpan ProbeTimeout { get; set; } = TimeSpan.FromMilliseconds(300);

    /// <summary>Consecutive failed probes before a running node is declared failed: with the defaults a hung node is failed in about a second.</summary>
    [Range(1, 100)]
    public int FailureThreshold { get; set; } = 2;

    /// <summary>
    /// The misses must also span at least this long: a burst of quick misses (the converge loop probes
    /// every 50 ms while it waits) is one moment of trouble, not the several a verdict needs.
    /// </summary>
    public TimeSpan FailureWindow { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Pre-started cluster-mode Redis nodes kept idle per zone; a new cluster takes them instead of
    /// starting containers, which skips the container start and Redis' 2 s writable delay. 0 turns it off.
    /// </summary>
    [Range(0, 100)]
    public int WarmPoolSize { get; set; }

    /// <summary>How long a zone may stay unreachable before replacements of its nodes are placed in another zone.</summary>
    public TimeSpan ZoneGrace { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// A node of a settled cluster (its group's last convergence found nothing to do) whose CLUSTER
    /// INFO and role read the same as when it last listed CLUSTER NODES is taken to see the cluster
    /// as it did then, for up to this long: every node's CLUSTER NODES lists every node, so reading
    /// it from all of them costs the square of the cluster's size. A failover, a slot taken over, a
    /// node met, forgotten or failed changes what CLUSTER INFO reads, and the list is read again at
    /// once; so is every node of a group with work to do. Zero reads it at every observation.
    /// </summary>
    public TimeSpan ClusterViewRefresh { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How long a create may wait for nodes, sync and gossip before the group is create-failed.</summary>
    public TimeSpan CreateTimeout { get; set; } = TimeSpan.FromMinutes(3);

    /// <summary>How long one group's convergence may hold a pass while it waits or acts; the next pass goes on from there.</summary>
    public TimeSpan ConvergeBudget { get; set; } = TimeSpan.FromSeconds(20);

    /// <summary>
    /// Groups and clusters converging at once in this process. Each holds a database connection
    /// while it runs (its advisory lock is on it), so a burst of creates must not open more than
    /// Postgres allows (max_connections, 100 by default) or Npgsql's pool holds (100); the others
    /// wait their turn within the same pass.
    /// </summary>
    [Range(1, 40)]
    public int MaxConvergences { get; set; } = 16;
}
