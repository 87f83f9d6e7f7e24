using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace ControlPlane.Domain.Parameters;

public enum ChangeType { Immediate, RequiresReboot }

/// <summary>
/// One engine parameter as ElastiCache describes it. allowedValues is ElastiCache's notation: a
/// comma-separated list, an integer range "min-max" (or "min-" for no upper bound), or a decimal range.
/// Flag: how a requires-reboot parameter reaches the engine's command line (Redis: --name; Memcached: its option).
/// </summary>
public sealed record ParameterDefinition(
    string Name,
    string Default,
    string DataType,
    string AllowedValues,
    bool IsModifiable,
    ChangeType ChangeType,
    string? Description = null);

/// <summary>
/// The parameter group families (redis7, valkey8, memcached1.6), their parameters with ElastiCache's
/// defaults, and the default groups: default.&lt;family&gt; and, for the Redis-like families,
/// default.&lt;family&gt;.cluster.on (cluster-enabled yes). Pure: values in, values out.
/// </summary>
public static class ParameterCatalog
{
    public const string Redis7 = "redis7";
    public const string Valkey8 = "valkey8";
    public const string Memcached16 = "memcached1.6";
    public const string DefaultPrefix = "default.";
    public const string ClusterOnSuffix = ".cluster.on";
    public const string ClusterEnabled = "cluster-enabled";
    public const string ReservedMemoryPercent = "reserved-memory-percent";

    public static readonly IReadOnlyList<string> Families = [Redis7, Valkey8, Memcached16];

    private const string Policies = "volatile-lru,allkeys-lru,volatile-lfu,allkeys-lfu,volatile-random,allkeys-random,volatile-ttl,noeviction";

    /// <summary>
    /// The parameters ElastiCache lets users change in its redis7 family (and valkey8, which has the
    /// same set), with its defaults. Everything CONFIG SET accepts is immediate; databases and
    /// cluster-enabled are read at start-up.
    /// </summary>
    private static readonly IReadOnlyList<ParameterDefinition> RedisLike =
    [
        new("acllog-max-len", "128", "integer", "1-10000", true, ChangeType.Immediate, "Entries kept in the ACL log."),
        // ElastiCache allows yes; the engines here are Debian's builds, linked with the system jemalloc,
        // which cannot defragment (CONFIG SET activedefrag yes is refused), so only no is accepted.
        new("activedefrag", "no", "string", "no", true, ChangeType.Immediate,
            "Active defragmentation. These engine builds (Debian's, on the system jemalloc) cannot defragment: only no is accepted."),
        new("active-defrag-cycle-max", "75", "integer", "1-75", true, ChangeType.Immediate, "Maximal CPU percent spent defragmenting, once the upper threshold is reached."),
        new("active-defrag-cycle-min", "25", "integer", "1-75", true, ChangeType.Immediate, "Minimal CPU percent spent defragmenting, once the lower threshold is reached."),
        new("active-defrag-ignore-bytes", "104857600", "integer", "1-", true, ChangeType.Immediate, "Bytes of fragmentation below which defragmentation does not start."),
        new("active-defrag-max-scan-fields", "1000", "integer", "1-1000000", true, ChangeType.Immediate, "Fields of a set, hash, sorted set or list scanned per main-dictionary step of defragmentation."),
        new("active-defrag-threshold-lower", "10", "integer", "1-100", true, ChangeType.Immediate, "Percent of fragmentation at which defragmentation starts."),
        new("active-defrag-threshold-upper", "100", "integer", "1-100", true, ChangeType.Immediate, "Percent of fragmentation at which defragmentation works hardest."),
        new("activerehashing", "yes", "string", "yes,no", true, ChangeType.Immediate, "Rehash the main dictionaries actively."),
        new("active-expire-effort", "1", "integer", "1-10", true, ChangeType.Immediate, "Effort spent on expiring keys actively."),
        new("client-output-buffer-limit-normal-hard-limit", "0", "integer", "0-", true, ChangeType.Immediate, "Bytes: a normal client past this is disconnected (0: no limit)."),
        new("client-output-buffer-limit-normal-soft-limit", "0", "integer", "0-", true, ChangeType.Immediate, "Bytes: a normal client past this for the soft seconds is disconnected."),
        new("client-output-buffer-limit-normal-soft-seconds", "0", "integer", "0-", true, ChangeType.Immediate, "Seconds over the soft limit."),
        new("client-output-buffer-limit-pubsub-hard-limit", "33554432", "integer", "0-", true, ChangeType.Immediate, "Bytes: a Pub/Sub client past this is disconnected."),
        new("client-output-buffer-limit-pubsub-soft-limit", "8388608", "integer", "0-", true, ChangeType.Immediate, "Bytes: a Pub/Sub client past this for the soft seconds is disconnected."),
        new("client-output-buffer-limit-pubsub-soft-seconds", "60", "integer", "0-", true, ChangeType.Immediate, "Seconds over the soft limit."),
        new("cluster-allow-pubsubshard-when-down", "yes", "string", "yes,no", true, ChangeType.Immediate, "Serve sharded Pub/Sub while the cluster is down."),
        new("client-query-buffer-limit", "1073741824", "integer", "1048576-1073741824", true, ChangeType.Immediate, "Bytes: the largest query buffer of one client."),
        new("cluster-allow-reads-when-down", "no", "string", "yes,no", true, ChangeType.Immediate, "Serve reads while the cluster is down."),
        new("cluster-require-full-coverage", "no", "string", "yes,no", true, ChangeType.Immediate,
            "yes: a cluster-mode node refuses every query while a slot is served by no node; no: the covered slots keep serving."),
        new(ClusterEnabled, "no", "string", "yes,no", true, ChangeType.RequiresReboot, "Cluster mode: yes for cluster-mode-enabled groups."),
        new("databases", "16", "integer", "1-1200000", true, ChangeType.RequiresReboot, "Number of logical databases."),
        new("hash-max-listpack-entries", "512", "integer", "0-", true, ChangeType.Immediate, "Hashes up to this many entries are stored compactly."),
        new("hash-max-listpack-value", "64", "integer", "0-", true, ChangeType.Immediate, "Hashes with values up to this size are stored compactly."),
        new("hll-sparse-max-bytes", "3000", "integer", "1-16000", true, ChangeType.Immediate, "HyperLogLog sparse representation limit."),
        new("latency-tracking", "yes", "string", "yes,no", true, ChangeType.Immediate, "Track per-command latency percentiles."),
        new("lazyfree-lazy-eviction", "no", "string", "yes,no", true, ChangeType.Immediate, "Free evicted keys in the background."),
        new("lazyfree-lazy-expire", "no", "string", "yes,no", true, ChangeType.Immediate, "Free expired keys in the background."),
        new("lazyfree-lazy-server-del", "no", "string", "yes,no", true, ChangeType.Immediate, "Free implicitly deleted keys in the background."),
        new("lazyfree-lazy-user-del", "no", "string", "yes,no", true, ChangeType.Immediate, "DEL behaves as UNLINK."),
        new("lazyfree-lazy-user-flush", "no", "string", "yes,no", true, ChangeType.Immediate, "FLUSHALL/FLUSHDB are asynchronous by default."),
        new("lfu-decay-time", "1", "integer", "0-", true, ChangeType.Immediate, "Minutes after which the LFU counter is halved."),
        new("lfu-log-factor", "10", "integer", "1-", true, ChangeType.Immediate, "LFU counter logarithm factor."),
        new("list-compress-depth", "0", "integer", "0-", true, ChangeType.Immediate, "List nodes left uncompressed at each end (0: no compression)."),
        new("list-max-listpack-size", "-2", "integer", "-5-2147483647", true, ChangeType.Immediate, "Entries (positive) or size class (-1 to -5) per list node."),
        new("maxmemory-policy", "volatile-lru", "string", Policies, true, ChangeType.Immediate, "Which keys are evicted when maxmemory is reached."),
        new("maxmemory-samples", "3", "integer", "1-", true, ChangeType.Immediate, "Keys sampled by the eviction algorithms."),
        new("min-replicas-max-lag", "10", "integer", "0-", true, ChangeType.Immediate, "Seconds a replica may lag and still count for min-replicas-to-write."),
        new("min-replicas-to-write", "0", "integer", "0-", true, ChangeType.Immediate, "Replicas that must be in sync for the primary to accept writes."),
        new("notify-keyspace-events", "", "string", "", true, ChangeType.Immediate,
            "Keyspace notifications: any of K E g $ l s h z x e t m n d A (empty: off)."),
        new("proto-max-bulk-len", "536870912", "integer", "1048576-536870912", true, ChangeType.Immediate, "Bytes: the largest string a client may send."),
        new("repl-backlog-size", "1048576", "integer", "16384-", true, ChangeType.Immediate, "Bytes of replication backlog for partial resyncs."),
        new("repl-backlog-ttl", "3600", "integer", "0-", true, ChangeType.Immediate, "Seconds the backlog is kept without replicas."),
        new(ReservedMemoryPercent, "25", "integer", "0-100", true, ChangeType.Immediate, "Percent of the node's memory kept out of maxmemory for the engine's own use."),
        new("set-max-intset-entries", "512", "integer", "0-", true, ChangeType.Immediate, "Sets of integers up to this many entries are stored compactly."),
        new("slowlog-log-slower-than", "10000", "integer", "-1-", true, ChangeType.Immediate, "Microseconds: slower commands go to the slow log (-1: off)."),
        new("slowlog-max-len", "128", "integer", "0-", true, ChangeType.Immediate, "Entries kept in the slow log."),
        new("stream-node-max-bytes", "4096", "integer", "0-", true, ChangeType.Immediate, "Bytes per stream node."),
        new("stream-node-max-entries", "100", "integer", "0-", true, ChangeType.Immediate, "Entries per stream node."),
        new("tracking-table-max-keys", "1000000", "integer", "1-100000000", true, ChangeType.Immediate, "Keys remembered for client-side caching (CLIENT TRACKING) before invalidations are sent early."),
        new("tcp-keepalive", "300", "integer", "0-", true, ChangeType.Immediate, "Seconds between TCP keepalives to clients."),
        new("timeout", "0", "integer", "0,20-", true, ChangeType.Immediate, "Seconds before an idle client is closed (0: never)."),
        new("zset-max-listpack-entries", "128", "integer", "0-", true, ChangeType.Immediate, "Sorted sets up to this many entries are stored compactly."),
        new("zset-max-listpack-value", "64", "integer", "0-", true, ChangeType.Immediate, "Sorted sets with members up to this size are stored compactly."),
        // Not modifiable, as on ElastiCache. ElastiCache shows 65000; the value here is what every node is
        // started with (NodeSpecs), inside a file limit that a container engine whose own limit is lower
        // than 65536 can still grant (ContainerSpecMapper).
        new(MaxClients, "10000", "integer", "1-10000", false, ChangeType.RequiresReboot, "Client connections a node accepts (what the nodes run with; ElastiCache's nodes take 65000)."),
    ];

    /// <summary>
    /// valkey8 is redis7's set with ElastiCache's valkey8 defaults where they differ: its replication
    /// backlog is 10 MiB.
    /// </summary>
    private static readonly IReadOnlyList<ParameterDefinition> ValkeyLike =
        RedisLike.Select(d => d.Name == "repl-backlog-size" ? d with { Default = "10485760" } : d).ToList();

    public const string MaxClients = "maxclients";

    /// <summary>The client connections every node accepts (Redis' maxclients, its default; Memcached's -c, max_simultaneous_connections).</summary>
    public const int MaxConnections = 10000;

    /// <summary>Memcached's parameters are start-up options: every change needs a reboot.</summary>
    private static readonly IReadOnlyList<ParameterDefinition> Memcached =
    [
        new("backlog_queue_limit", "1024", "integer", "1-10000", true, ChangeType.RequiresReboot, "Listen backlog (-b)."),
        new("binding_protocol", "auto", "string", "auto,binary,ascii", true, ChangeType.RequiresReboot, "Protocol (-B)."),
        new("cas_disabled", "0", "boolean", "0,1", true, ChangeType.RequiresReboot, "1 turns compare-and-swap off (-C)."),
        new("chunk_size", "48", "integer", "1-", true, ChangeType.RequiresReboot, "Minimum bytes of key, value and flags per item (-n)."),
        new("chunk_size_growth_factor", "1.25", "numeric", "1-2", true, ChangeType.RequiresReboot, "Growth factor between slab classes (-f)."),
        new("error_on_memory_exhausted", "0", "boolean", "0,1", true, ChangeType.RequiresReboot, "1 answers an error instead of evicting (-M)."),
        new("idle_timeout", "0", "integer", "0-", true, ChangeType.RequiresReboot, "Seconds before an idle client is closed (0: never)."),
        new("lru_crawler", "1", "boolean", "0,1", true, ChangeType.RequiresReboot, "Background crawler that reclaims expired items."),
        new("max_item_size", "1048576", "integer", "1024-134217728", true, ChangeType.RequiresReboot, "Largest item in bytes (-I)."),
        new("requests_per_event", "20", "integer", "1-1000", true, ChangeType.RequiresReboot, "Requests handled per connection per event (-R)."),
        new("slab_reassign", "1", "boolean", "0,1", true, ChangeType.RequiresReboot, "Allow moving memory between slab classes."),
        new("max_simultaneous_connections", "10000", "integer", "1-10000", false, ChangeType.RequiresReboot, "Client connections a node accepts (what the nodes run with; ElastiCache's nodes take 65000)."),
    ];

    public static bool IsFamily(string family) => Families.Contains(family);

    public static bool IsRedisLike(string family) => family is Redis7 or Valkey8;

    public static IReadOnlyList<ParameterDefinition> Definitions(string family) => family switch
    {
        Redis7 => RedisLike,
        Valkey8 => ValkeyLike,
        Memcached16 => Memcached,
        _ => [],
    };

    public static ParameterDefinition? Find(string family, string name) => Definitions(family).FirstOrDefault(d => d.Name == name);

    /// <summary>The shared, read-only default groups: default.redis7, default.redis7.cluster.on, default.valkey8, ...</summary>
    public static IReadOnlyList<string> DefaultGroups { get; } =
        Families.SelectMany(f => IsRedisLike(f) ? new[] { DefaultPrefix + f, DefaultPrefix + f + ClusterOnSuffix } : [DefaultPrefix + f]).ToList();

    public static bool IsDefaultName(string name) => name.StartsWith(DefaultPrefix, StringComparison.Ordinal);

    /// <summary>The family of a default group, or null when the name is none of them.</summary>
    public static string? DefaultGroupFamily(string name) =>
        DefaultGroups.Contains(name) ? name[DefaultPrefix.Length..].Replace(ClusterOnSuffix, "", StringComparison.Ordinal) : null;

    /// <summary>The default group a group of this family and cluster mode gets when it names none.</summary>
    public static string DefaultGroupFor(string family, bool clusterEnabled) =>
        DefaultPrefix + family + (clusterEnabled && IsRedisLike(family) ? ClusterOnSuffix : "");

    /// <summary>What a default group holds beyond the family's defaults: cluster-enabled yes in the .cluster.on ones.</summary>
    public static IReadOnlyDictionary<string, string> DefaultGroupOverrides(string name) =>
        name.EndsWith(ClusterOnSuffix, StringComparison.Ordinal)
            ? new Dictionary<string, string> { [ClusterEnabled] = "yes" }
            : new Dictionary<string, string>();

    /// <summary>Every parameter of the family with the overrides applied.</summary>
    public static IReadOnlyDictionary<string, string> Effective(string family, IReadOnlyDictionary<string, string> overrides) =>
        Definitions(family).ToDictionary(d => d.Name, d => overrides.TryGetValue(d.Name, out var value) ? value : d.Default);

    /// <summary>Why value is not acceptable for the parameter, or null when it is.</summary>
    public static string? Check(string family, string name, string value)
    {
        var definition = Find(family, name);
        if (definition is null)
            return $"{name} is not a parameter of the {family} family.";
        if (!definition.IsModifiable)
            return $"{name} cannot be modified.";
        if (name == "notify-keyspace-events")
            return value.All(c => "KEg$lshzxetmndA".Contains(c)) && value.Distinct().Count() == value.Length
                ? null
                : $"notify-keyspace-events takes the classes K E g $ l s h z x e t m n d A, each at most once; {value} is not such a value.";
        return Allowed(definition, value) ? null : $"{value} is not an allowed value of {name}: {definition.AllowedValues}.";
    }

    private static bool Allowed(ParameterDefinition definition, string value)
    {
        foreach (var option in definition.AllowedValues.Split(','))
        {
            if (definition.DataType is "string" or "boolean")
            {
                if (option == value)
                    return true;
                continue;
            }
            var dash = option.IndexOf('-', 1); // a leading minus belongs to the lower bound
            if (dash < 0)
            {
                if (option == value)
                    return true;
                continue;
            }
            var (low, high) = (option[..dash], option[(dash + 1)..]);
            if (definition.DataType == "integer")
            {
                if (value.Length > 0 && value.All(c => char.IsAsciiDigit(c) || c == '-')
                    && long.TryParse(value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var number)
                    && number >= long.Parse(low, CultureInfo.InvariantCulture)
                    && (high.Length == 0 || number <= long.Parse(high, CultureInfo.InvariantCulture)))
                    return true;
            }
            else if (decimal.TryParse(value, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var real)
                     && real >= decimal.Parse(low, CultureInfo.InvariantCulture)
                     && (high.Length == 0 || real <= decimal.Parse(high, CultureInfo.InvariantCulture)))
                return true;
        }
        return false;
    }

    private const string OutputBufferPrefix = "client-output-buffer-limit-";

    /// <summary>
    /// What CONFIG SET gives a Redis or Valkey node for the immediate parameters: each as it is named,
    /// except reserved-memory-percent, which becomes maxmemory (the node's memory less that share), and
    /// ElastiCache's six client-output-buffer-limit-* ones, which the engine takes as one client-output-buffer-limit.
    /// </summary>
    public static IReadOnlyList<(string Name, string Value)> OnlineSettings(string family, IReadOnlyDictionary<string, string> values, long memoryBytes)
    {
        var settings = new List<(string, string)>();
        string Value(ParameterDefinition d) => values.TryGetValue(d.Name, out var v) ? v : d.Default;
        string Limit(string name) => Value(Find(family, OutputBufferPrefix + name)!);
        var buffers = string.Join(' ', new[] { "normal", "pubsub" }.Select(c => $"{c} {Limit($"{c}-hard-limit")} {Limit($"{c}-soft-limit")} {Limit($"{c}-soft-seconds")}"));
        settings.Add(("client-output-buffer-limit", buffers));
        foreach (var definition in Definitions(family).Where(d => d.ChangeType == ChangeType.Immediate && !d.Name.StartsWith(OutputBufferPrefix, StringComparison.Ordinal)))
        {
            var value = Value(definition);
            if (definition.Name == ReservedMemoryPercent)
                settings.Add(("maxmemory", MaxMemory(memoryBytes, int.Parse(value, CultureInfo.InvariantCulture)).ToString(CultureInfo.InvariantCulture)));
            else
                settings.Add((definition.Name, value));
        }
        return settings;
    }

    /// <summary>maxmemory of a node: its memory less the reserved share.</summary>
    public static long MaxMemory(long memoryBytes, int reservedPercent) => memoryBytes * (100 - reservedPercent) / 100;

    /// <summary>
    /// The command-line arguments of the requires-reboot parameters that differ from the engine's own
    /// default (cluster-enabled is the group's cluster mode, given by the node's spec itself).
    /// </summary>
    public static IReadOnlyList<string> StartupArguments(string family, IReadOnlyDictionary<string, string> values)
    {
        var arguments = new List<string>();
        foreach (var definition in Definitions(family).Where(d => d.ChangeType == ChangeType.RequiresReboot && d.IsModifiable && d.Name != ClusterEnabled))
        {
            if (!values.TryGetValue(definition.Name, out var value) || value == definition.Default)
                continue;
            if (IsRedisLike(family))
                arguments.AddRange([$"--{definition.Name}", value]);
            else
                arguments.AddRange(MemcachedOption(definition.Name, value));
        }
        return arguments;
    }

    private static IEnumerable<string> MemcachedOption(string name, string value) => name switch
    {
        "backlog_queue_limit" => ["-b", value],
        "binding_protocol" => ["-B", value],
        "cas_disabled" => value == "1" ? ["-C"] : [],
        "chunk_size" => ["-n", value],
        "chunk_size_growth_factor" => ["-f", value],
        "error_on_memory_exhausted" => value == "1" ? ["-M"] : [],
        "idle_timeout" => ["-o", $"idle_timeout={value}"],
        "lru_crawler" => value == "0" ? ["-o", "no_lru_crawler"] : [],
        "max_item_size" => ["-I", value],
        "requests_per_event" => ["-R", value],
        "slab_reassign" => value == "0" ? ["-o", "no_slab_reassign"] : [],
        _ => [],
    };

    /// <summary>The start-up arguments of these values and their fingerprint (what a node's container is labelled with).</summary>
    public static StartupParameters Startup(string family, IReadOnlyDictionary<string, string> values) =>
        new(StartupArguments(family, values), Fingerprint(family, values, ChangeType.RequiresReboot));

    /// <summary>A short fingerprint of the values of one change type: what a node holds is compared by it.</summary>
    public static string Fingerprint(string family, IReadOnlyDictionary<string, string> values, ChangeType changeType)
    {
        var text = string.Join('\n', Definitions(family).Where(d => d.ChangeType == changeType)
            .Select(d => $"{d.Name}={(values.TryGetValue(d.Name, out var v) ? v : d.Default)}"));
        return Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(text)))[..16].ToLowerInvariant();
    }
}

/// <summary>What a node is started with for its requires-reboot parameters: command-line arguments and their fingerprint.</summary>
public sealed record StartupParameters(IReadOnlyList<string> Arguments, string Fingerprint);
