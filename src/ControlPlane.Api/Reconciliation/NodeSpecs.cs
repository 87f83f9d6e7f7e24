using System.Collections.Concurrent;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using ControlPlane.Api.Options;
using ControlPlane.Api.Runtime;
using ControlPlane.Api.Security;
using ControlPlane.Api.Security.Tls;
using ControlPlane.Domain;
using ControlPlane.Domain.Parameters;
using Microsoft.Extensions.Options;

namespace ControlPlane.Api.Reconciliation;

/// <summary>What a node's container runs. The spec hash label tells the reconciler when a container is outdated.</summary>
public sealed class NodeSpecs(IOptions<ControlPlaneOptions> options, Catalog catalog, NodeSecretStore secrets)
{
    private string Instance => options.Value.Reconciler.Instance;

    public string ContainerName(string nodeId) => ContainerNames.Of(Instance, nodeId);

    /// <summary>Redis specs carry the control plane's node users: their secrets are read (once) before any spec is built.</summary>
    public Task LoadSecretsAsync(CancellationToken ct) => secrets.GetAsync(ct);

    /// <summary>
    /// A Redis node runs once. Restarted in place by anyone else (docker restart, a daemon restart, a
    /// restart policy someone added) it would come back empty, still a primary at the same port, and its
    /// replicas would resync from it and wipe themselves before anyone noticed. So the second start of
    /// a container exits at once (code 75); the node is then failed over and replaced like any dead one.
    /// Each start writes a fresh token to /data/.node-started; a start is allowed again only when
    /// /data/.reboot holds that token, which the control plane writes when it reboots the node itself
    /// (a replica that resyncs, or a primary that saved its data first). The marker lives in the
    /// container's data volume (the root file system is read-only, /tmp a tmpfs that a restart empties):
    /// a new container for the node starts normally. The image's shell is dash alone: builtins only.
    /// </summary>
    public static readonly IReadOnlyList<string> StartOnce =
    [
        "/bin/sh", "-c",
        "if [ -e /data/.node-started ]; then read -r started </data/.node-started || started=; read -r allowed 2>/dev/null </data/.reboot || allowed=; "
            + "if [ -z \"$started\" ] || [ \"$started\" != \"$allowed\" ]; then "
            + "echo 'this container ran before: a node is replaced or rebooted by the control plane, never restarted empty' >&2; exit 75; fi; fi; "
            + "read -r token </proc/sys/kernel/random/uuid && echo \"$token\" >/data/.node-started && exec \"$@\"",
        "start-once",
    ];

    /// <summary>Where a node's start token is, and where the control plane puts it to allow one more start (a reboot).</summary>
    public const string StartedMarker = "/data/.node-started";

    public const string RebootMarker = "/data/.reboot";

    /// <summary>
    /// The start-up values of the node's parameter group go on the command line after the rest, outside
    /// the spec hash: a changed value leaves the node pending-reboot instead of outdated (replaced at once),
    /// and the parameters label says what the container started with.
    /// </summary>
    public const string ParametersLabel = "controlplane.parameters";

    /// <summary>
    /// A node of a replication group: Redis, or Valkey (the same options, its own server binary and
    /// image). clusterNodes: how many nodes its cluster has now (see <see cref="ClusterNodeTimeout"/>).
    /// </summary>
    public ContainerSpec Redis(string groupId, string shardId, string nodeId, string host, int port, string engineVersion, string nodeTypeName, bool cluster,
        string engine = Catalog.Redis, StartupParameters? parameters = null, NodeTransit? transit = null, int clusterNodes = 0)
    {
        // Every pass builds every node's spec to compare its hash with the container's: the same
        // inputs give the same spec, so it is built once (the command, its hash, the labels) and kept.
        var timeoutMs = cluster ? ClusterNodeTimeout(clusterNodes) : NodeTimeoutMs;
        var key = new RedisKey(groupId, shardId, nodeId, host, port, engineVersion, nodeTypeName, cluster, engine, timeoutMs, secrets.Loaded);
        if (!_redis.TryGetValue(key, out var spec))
        {
            // Nodes come and go: the kept specs are dropped all at once now and then rather than tracked.
            if (_redis.Count >= MaxKept)
                _redis.Clear();
            spec = _redis[key] = WithNodeTimeout(RedisBase(groupId, shardId, nodeId, host, port, engineVersion, nodeTypeName, cluster, engine), timeoutMs);
        }
        return WithTransit(WithParameters(spec, parameters), transit, transit?.RedisArguments(cluster));
    }

    /// <summary>The cluster node timeout every node starts with (fast creates, see the command line below), in ms.</summary>
    public const int NodeTimeoutMs = 1000;

    /// <summary>
    /// Redis pings every peer at least every half node timeout. At 1 s a 250-node cluster sends about
    /// 125,000 bus messages a second: on a 2-core machine its nodes used both cores (load average 230),
    /// probes timed out and the create never finished. A cluster of more than 25 nodes starts its nodes
    /// with 40 ms a node instead, at most Redis' default of 15 s, so that each node pings about 50 peers
    /// a second whatever the size.
    /// </summary>
    public static int ClusterNodeTimeout(int clusterNodes) => Math.Clamp(clusterNodes * 40, NodeTimeoutMs, 15_000);

    /// <summary>
    /// A longer node timeout goes on the command line after the rest (the engine takes the last value)
    /// and outside the spec hash: a group that grows past 25 nodes keeps the nodes it has (with theirs),
    /// only the nodes started after get the new value.
    /// </summary>
    private static ContainerSpec WithNodeTimeout(ContainerSpec spec, int timeoutMs) => timeoutMs == NodeTimeoutMs ? spec : spec with
    {
        Command = [.. spec.Command, "--cluster-node-timeout", Text(timeoutMs)],
    };

    private const int MaxKept = 20_000;

    private readonly ConcurrentDictionary<RedisKey, ContainerSpec> _redis = new();

    /// <summary>What a Redis node's kept spec depends on; the node secrets by reference (they are loaded once).</summary>
    private readonly record struct RedisKey(string GroupId, string ShardId, string NodeId, string Host, int Port, string EngineVersion, string NodeType,
        bool Cluster, string Engine, int NodeTimeoutMs, NodeSecrets Secrets);

    private ContainerSpec RedisBase(string groupId, string shardId, string nodeId, string host, int port, string engineVersion, string nodeTypeName, bool cluster, string engine)
    {
        var nodeType = NodeType(nodeTypeName);
        List<string> command =
        [
            .. StartOnce,
            engine == Catalog.Valkey ? "valkey-server" : "redis-server", "--port", Text(port), "--bind", host, "--dir", "/data",
            // Who may do what: the control plane's own users, and the commands clients never get.
            .. RedisAcl.NodeArguments(secrets.Loaded),
            // Nodes are not persisted: replicas and snapshots keep the data, as on ElastiCache.
            "--save", "", "--appendonly", "no",
            "--maxmemory", Text(nodeType.MaxMemoryBytes), "--maxmemory-policy", "volatile-lru",
            // maxclients as the parameter groups show it (not modifiable); the container's file limit allows it (ContainerSpecMapper).
            "--maxclients", Text(ParameterCatalog.MaxConnections),
            // A replica that attaches starts its full sync at once; Redis' default waits 5 s for others to join the transfer.
            "--repl-diskless-sync-delay", "0",
        ];
        if (cluster)
            command.AddRange(
            [
                "--cluster-enabled", "yes", "--cluster-config-file", $"nodes-{port}.conf",
                // A master that has been in a minority waits the node timeout (at most 5 s) before it
                // says cluster_state:ok again, and every new master starts that way: 1 s keeps creates fast.
                "--cluster-node-timeout", Text(NodeTimeoutMs),
                // Failing over is the control plane's (in about 0.1 s): with so short a timeout Redis
                // must not also promote replicas by itself on a busy machine.
                "--cluster-replica-no-failover", "yes",
                // Replicas are placed by the control plane too. Left on, Redis 7.0 also turns a master
                // whose last slot was migrated away into a replica of the taker, mid scale-in, and the
                // next SETSLOT to it fails ("Please use SETSLOT only with masters", redis/redis#11104).
                "--cluster-allow-replica-migration", "no",
            ]);
        return Spec(Catalog.Redis, engine, groupId, shardId, nodeId, port, engineVersion, nodeType, command);
    }

    public ContainerSpec Memcached(string clusterId, string nodeId, string host, int port, string engineVersion, string nodeTypeName,
        StartupParameters? parameters = null, NodeTransit? transit = null)
    {
        var nodeType = NodeType(nodeTypeName);
        List<string> command =
        [
            "memcached", "-p", Text(port), "-l", host, "-U", "0", "-c", Text(ParameterCatalog.MaxConnections),
            "-m", Text(Math.Max(1, nodeType.MaxMemoryBytes / (1024 * 1024))),
        ];
        return WithTransit(WithParameters(Spec(Catalog.Memcached, Catalog.Memcached, clusterId, null, nodeId, port, engineVersion, nodeType, command), parameters),
            transit, transit?.MemcachedArguments());
    }

    /// <summary>kind: the label that tells the reconciler's listing what a container is (redis for both Redis and Valkey nodes).</summary>
    private ContainerSpec Spec(string kind, string engine, string groupId, string? shardId, string nodeId, int port, string engineVersion, NodeType nodeType, List<string> command)
    {
        var image = catalog.EngineVersions.FirstOrDefault(v => v.Engine == engine && v.Version == engineVersion)?.Image
            ?? throw new InvalidOperationException($"No image is configured for {engine} {engineVersion}.");
        var memory = nodeType.MemoryMiB * 1024L * 1024L;
        var hash = Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(
            string.Join('\n', [image, Text(memory), Text(nodeType.Cpus), .. command]))))[..16].ToLowerInvariant();
        var labels = new Dictionary<string, string>
        {
            [Labels.Managed] = "true",
            [Labels.Instance] = Instance,
            [Labels.Kind] = kind,
            [Labels.Group] = groupId,
            [Labels.Node] = nodeId,
            [Labels.Port] = Text(port),
            [Labels.SpecHash] = hash,
        };
        if (shardId is not null)
            labels[Labels.Shard] = shardId;
        return new ContainerSpec(ContainerName(nodeId), image, command, labels, memory, nodeType.Cpus);
    }

    private static ContainerSpec WithParameters(ContainerSpec spec, StartupParameters? parameters) => parameters is null ? spec : spec with
    {
        Command = [.. spec.Command, .. parameters.Arguments],
        Labels = new Dictionary<string, string>(spec.Labels) { [ParametersLabel] = parameters.Fingerprint },
    };

    /// <summary>What the transit label says: the mode the container started with (later changes are made online).</summary>
    public const string TransitLabel = "controlplane.transit";

    /// <summary>
    /// TLS goes on last and outside the spec hash: a group moving from plain text to TLS changes its
    /// nodes online (CONFIG SET), and a renewed certificate is a new file, neither replaces a node.
    /// </summary>
    private static ContainerSpec WithTransit(ContainerSpec spec, NodeTransit? transit, IReadOnlyList<string>? arguments) => transit is null ? spec : spec with
    {
        Command = [.. spec.Command, .. arguments!],
        Files = new Dictionary<string, string>(spec.Files ?? new Dictionary<string, string>()).Concat(transit.Files).ToDictionary(),
        Labels = new Dictionary<string, string>(spec.Labels) { [TransitLabel] = transit.Mode },
    };

    private NodeType NodeType(string name) =>
        catalog.NodeTypes.FirstOrDefault(t => t.Name == name) ?? throw new InvalidOperationException($"Node type {name} is not configured.");

    private static string Text(long value) => value.ToString(CultureInfo.InvariantCulture);

    private static string Text(double value) => value.ToString(CultureInfo.InvariantCulture);
}
