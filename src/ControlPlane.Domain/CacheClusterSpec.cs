namespace ControlPlane.Domain;

/// <summary>The desired state of a Memcached cluster, defaults already applied. PreferredMaintenanceWindow: ddd:hh:mm-ddd:hh:mm (UTC).</summary>
public sealed record CacheClusterSpec(
    string Id,
    string Engine,
    string EngineVersion,
    string NodeType,
    int NumNodes,
    AzMode AzMode,
    IReadOnlyList<string>? PreferredAvailabilityZones,
    DateTimeOffset? ExpiresAt,
    string? PreferredMaintenanceWindow = null,
    bool TransitEncryption = false);

public static class CacheClusterRules
{
    public static IReadOnlyList<Violation> Validate(CacheClusterSpec spec, Catalog catalog, DateTimeOffset now)
    {
        var errors = new List<Violation>();
        void Value(string field, string message) => errors.Add(new(ErrorCodes.InvalidParameterValue, field, message));
        void Combination(string field, string message) => errors.Add(new(ErrorCodes.InvalidParameterCombination, field, message));

        if (Identifiers.Check(spec.Id, Limits.MaxCacheClusterIdLength) is { } idError)
            Value("id", $"The cache cluster id {idError}");
        if (Catalog.IsRedisLike(spec.Engine))
            Combination("engine", "Redis and Valkey are created through replication groups (POST /v1/replication-groups).");
        else if (spec.Engine != Catalog.Memcached)
            Value("engine", "engine must be memcached.");
        else if (!catalog.HasEngineVersion(Catalog.Memcached, spec.EngineVersion))
            Value("engineVersion", $"Engine version {spec.EngineVersion} is not supported for memcached; see GET /v1/engine-versions.");
        if (!catalog.HasNodeType(spec.NodeType))
            Value("nodeType", $"Node type {spec.NodeType} does not exist; see GET /v1/node-types.");
        if (spec.NumNodes is < 1 or > Limits.MaxMemcachedNodes)
            Value("numNodes", $"numNodes must be between 1 and {Limits.MaxMemcachedNodes}.");
        if (spec.AzMode == AzMode.CrossAz && spec.NumNodes < 2)
            Combination("azMode", "cross-az needs at least 2 nodes.");
        if (spec.PreferredAvailabilityZones is { } azs)
        {
            if (azs.Count != spec.NumNodes)
                Combination("preferredAvailabilityZones", $"preferredAvailabilityZones must have numNodes ({spec.NumNodes}) entries.");
            foreach (var az in azs.Where(az => !catalog.HasAvailabilityZone(az)).Distinct())
                Value("preferredAvailabilityZones", $"Availability zone {az} does not exist.");
        }
        if (spec.PreferredMaintenanceWindow is { } maintenance && Planning.MaintenanceWindow.TryParse(maintenance, out _) is { } maintenanceError)
            Value("preferredMaintenanceWindow", maintenanceError);
        if (spec.ExpiresAt is { } expiresAt && expiresAt <= now)
            Value("expiresAt", "expiresAt must be in the future.");
        return errors;
    }
}
