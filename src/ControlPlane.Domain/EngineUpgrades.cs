using System.Globalization;

namespace ControlPlane.Domain;

/// <summary>
/// Which in-place engine changes a replication group may make: a newer version of its engine, or
/// Redis to Valkey (Valkey reads Redis' files and speaks its replication; the way back it does not).
/// Downgrades, and anything the catalogue does not know, are refused.
/// </summary>
public static class EngineUpgrades
{
    /// <summary>Why the change is refused (field and message), or null when it is an allowed upgrade.</summary>
    public static Violation? Check(string fromEngine, string fromVersion, string toEngine, string toVersion, Catalog catalog)
    {
        if (!Catalog.IsRedisLike(toEngine))
            return new(ErrorCodes.InvalidParameterValue, "engine", $"A replication group runs {Catalog.Redis} or {Catalog.Valkey}, not {toEngine}.");
        if (!catalog.HasEngineVersion(toEngine, toVersion))
            return new(ErrorCodes.InvalidParameterValue, "engineVersion", $"Engine version {toVersion} is not supported for {toEngine}; see GET /v1/engine-versions.");
        if (fromEngine == Catalog.Valkey && toEngine == Catalog.Redis)
            return new(ErrorCodes.InvalidParameterCombination, "engine", "A Valkey group cannot go back to Redis: Redis cannot read Valkey's data.");
        if (fromEngine == toEngine && Compare(toVersion, fromVersion) < 0)
            return new(ErrorCodes.InvalidParameterCombination, "engineVersion", $"{toEngine} {toVersion} is older than {fromVersion}: downgrades are not possible.");
        return null;
    }

    private static int Compare(string a, string b) => Parse(a).CompareTo(Parse(b));

    private static Version Parse(string version) =>
        Version.TryParse(version.Contains('.', StringComparison.Ordinal) ? version : version + ".0", out var parsed) ? parsed : new Version(0, 0);
}
