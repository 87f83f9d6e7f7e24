namespace ControlPlane.Domain;

/// <summary>A size of node: the container's memory and CPU limits, and the engine's maxmemory below them.</summary>
public sealed record NodeType(string Name, int MemoryMiB, double Cpus)
{
    /// <summary>Redis maxmemory: a quarter of the container is left to the engine's own overhead and forks.</summary>
    public long MaxMemoryBytes => MemoryMiB * 1024L * 1024L * 3 / 4;
}

public sealed record EngineVersion(string Engine, string Version, string Image);

/// <summary>What the API accepts: node types, engine versions and availability zones from configuration.</summary>
public sealed record Catalog(
    IReadOnlyList<NodeType> NodeTypes,
    IReadOnlyList<EngineVersion> EngineVersions,
    IReadOnlyList<string> AvailabilityZones)
{
    public const string Redis = "redis";
    public const string Valkey = "valkey";
    public const string Memcached = "memcached";

    /// <summary>The engines a replication group runs: Valkey speaks Redis' protocol, replication and cluster bus.</summary>
    public static bool IsRedisLike(string engine) => engine is Redis or Valkey;

    /// <summary>The parameter group family of an engine version, as ElastiCache names it: redis7, valkey8, memcached1.6.</summary>
    public static string Family(string engine, string version) => engine == Memcached
        ? $"{Memcached}{string.Join('.', version.Split('.').Take(2))}"
        : $"{engine}{version.Split('.')[0]}";

    public bool HasNodeType(string name) => NodeTypes.Any(t => t.Name == name);

    public bool HasEngineVersion(string engine, string version) =>
        EngineVersions.Any(v => v.Engine == engine && v.Version == version);

    public bool HasAvailabilityZone(string name) => AvailabilityZones.Contains(name);

    /// <summary>The newest version configured for an engine, compared as dotted numbers.</summary>
    public string NewestVersion(string engine) =>
        EngineVersions.Where(v => v.Engine == engine)
            .Select(v => v.Version)
            .OrderByDescending(v => Version.TryParse(v.Contains('.') ? v : v + ".0", out var parsed) ? parsed : new Version(0, 0))
            .FirstOrDefault() ?? "";
}
