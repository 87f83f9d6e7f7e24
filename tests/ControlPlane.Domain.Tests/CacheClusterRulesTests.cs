using ControlPlane.Domain;

namespace ControlPlane.Domain.Tests;

public sealed class CacheClusterRulesTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 26, 10, 0, 0, TimeSpan.Zero);
    private static readonly Catalog Catalog = new(
        [new NodeType("cache.small", 512, 0.5)],
        [new EngineVersion("redis", "7.0", "redis:7.0"), new EngineVersion("memcached", "1.6", "memcached:1.6")],
        ["az-a", "az-b"]);

    private static readonly CacheClusterSpec Valid = new("sessions", "memcached", "1.6", "cache.small", 1, AzMode.SingleAz, null, null);

    public static TheoryData<string, CacheClusterSpec, string?, string?> Rows => new()
    {
        { "defaults are valid", Valid, null, null },
        { "id of 50 characters", Valid with { Id = new string('s', 50) }, null, null },
        { "id of 51 characters", Valid with { Id = new string('s', 51) }, ErrorCodes.InvalidParameterValue, "id" },
        { "redis engine", Valid with { Engine = "redis" }, ErrorCodes.InvalidParameterCombination, "engine" },
        { "unknown engine", Valid with { Engine = "keydb" }, ErrorCodes.InvalidParameterValue, "engine" },
        { "valkey is a replication group", Valid with { Engine = "valkey" }, ErrorCodes.InvalidParameterCombination, "engine" },
        { "redis version", Valid with { EngineVersion = "7.0" }, ErrorCodes.InvalidParameterValue, "engineVersion" },
        { "unknown node type", Valid with { NodeType = "cache.huge" }, ErrorCodes.InvalidParameterValue, "nodeType" },
        { "60 nodes", Valid with { NumNodes = 60 }, null, null },
        { "61 nodes", Valid with { NumNodes = 61 }, ErrorCodes.InvalidParameterValue, "numNodes" },
        { "0 nodes", Valid with { NumNodes = 0 }, ErrorCodes.InvalidParameterValue, "numNodes" },
        { "cross-az with 2 nodes", Valid with { NumNodes = 2, AzMode = AzMode.CrossAz }, null, null },
        { "cross-az with 1 node", Valid with { AzMode = AzMode.CrossAz }, ErrorCodes.InvalidParameterCombination, "azMode" },
        { "preferred zones for every node", Valid with { NumNodes = 2, PreferredAvailabilityZones = ["az-a", "az-b"] }, null, null },
        { "preferred zones fewer than nodes", Valid with { NumNodes = 2, PreferredAvailabilityZones = ["az-a"] }, ErrorCodes.InvalidParameterCombination, "preferredAvailabilityZones" },
        { "unknown preferred zone", Valid with { PreferredAvailabilityZones = ["az-x"] }, ErrorCodes.InvalidParameterValue, "preferredAvailabilityZones" },
        { "expiry in the past", Valid with { ExpiresAt = Now.AddMinutes(-1) }, ErrorCodes.InvalidParameterValue, "expiresAt" },
    };

    [Theory]
    [MemberData(nameof(Rows))]
    public void Limits_table(string name, CacheClusterSpec spec, string? code, string? field)
    {
        var violations = CacheClusterRules.Validate(spec, Catalog, Now);
        if (code is null)
            Assert.True(violations.Count == 0, $"{name}: {string.Join("; ", violations)}");
        else
            Assert.Contains(violations, v => v.Field == field && v.Code == code);
    }
}
