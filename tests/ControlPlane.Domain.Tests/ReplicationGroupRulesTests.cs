using ControlPlane.Domain;

namespace ControlPlane.Domain.Tests;

/// <summary>The limits table, one row per rule, accept side and reject side.</summary>
public sealed class ReplicationGroupRulesTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 26, 10, 0, 0, TimeSpan.Zero);
    private static readonly Catalog Catalog = new(
        [new NodeType("cache.small", 512, 0.5)],
        [new EngineVersion("redis", "7.0", "redis:7.0"), new EngineVersion("memcached", "1.6", "memcached:1.6")],
        ["az-a", "az-b", "az-c"]);

    private static readonly ReplicationGroupSpec Valid = new(
        "orders", "", "7.0", "cache.small", ClusterMode.Disabled, 1, 1, true, true, false, null, 0, null, null, null, null);

    private static readonly ReplicationGroupSpec ValidEnabled = Valid with { ClusterMode = ClusterMode.Enabled, NumShards = 3 };

    private static IReadOnlyList<ShardSpec> Shards(params string[] slots) => slots.Select(s => new ShardSpec(s, null, null)).ToList();

    public static TheoryData<string, ReplicationGroupSpec, string?, string?> Rows => new()
    {
        // name, spec, expected code (null = valid), expected field
        { "defaults are valid", Valid, null, null },
        { "id with a hyphen", Valid with { Id = "orders-eu-1" }, null, null },
        { "id of 40 characters", Valid with { Id = new string('a', 40) }, null, null },
        { "id of 41 characters", Valid with { Id = new string('a', 41) }, ErrorCodes.InvalidParameterValue, "id" },
        { "id starting with a digit", Valid with { Id = "1orders" }, ErrorCodes.InvalidParameterValue, "id" },
        { "id ending with a hyphen", Valid with { Id = "orders-" }, ErrorCodes.InvalidParameterValue, "id" },
        { "id with two hyphens in a row", Valid with { Id = "or--ders" }, ErrorCodes.InvalidParameterValue, "id" },
        { "id with an underscore", Valid with { Id = "or_ders" }, ErrorCodes.InvalidParameterValue, "id" },
        { "empty id", Valid with { Id = "" }, ErrorCodes.InvalidParameterValue, "id" },
        { "description of 255 characters", Valid with { Description = new string('d', 255) }, null, null },
        { "description of 256 characters", Valid with { Description = new string('d', 256) }, ErrorCodes.InvalidParameterValue, "description" },
        { "unknown engine version", Valid with { EngineVersion = "6.2" }, ErrorCodes.InvalidParameterValue, "engineVersion" },
        { "memcached version for redis", Valid with { EngineVersion = "1.6" }, ErrorCodes.InvalidParameterValue, "engineVersion" },
        { "unknown node type", Valid with { NodeType = "cache.huge" }, ErrorCodes.InvalidParameterValue, "nodeType" },
        { "disabled with 1 shard", Valid, null, null },
        { "disabled with 2 shards", Valid with { NumShards = 2 }, ErrorCodes.InvalidParameterCombination, "numShards" },
        { "enabled with 1 shard", ValidEnabled with { NumShards = 1 }, null, null },
        { "enabled with 90 shards and no replica", ValidEnabled with { NumShards = 90, ReplicasPerShard = 0, MultiAz = false }, null, null },
        { "enabled with 0 shards", ValidEnabled with { NumShards = 0 }, ErrorCodes.InvalidParameterValue, "numShards" },
        { "enabled with 501 shards", ValidEnabled with { NumShards = 501 }, ErrorCodes.InvalidParameterValue, "numShards" },
        { "enabled over the shard quota", ValidEnabled with { NumShards = 91, ReplicasPerShard = 0, MultiAz = false }, ErrorCodes.NodeGroupsPerReplicationGroupQuotaExceeded, "numShards" },
        { "0 replicas without failover", Valid with { ReplicasPerShard = 0, AutomaticFailover = false, MultiAz = false }, null, null },
        { "5 replicas", Valid with { ReplicasPerShard = 5 }, null, null },
        { "6 replicas", Valid with { ReplicasPerShard = 6 }, ErrorCodes.InvalidParameterValue, "replicasPerShard" },
        { "negative replicas", Valid with { ReplicasPerShard = -1, AutomaticFailover = false, MultiAz = false }, ErrorCodes.InvalidParameterValue, "replicasPerShard" },
        { "failover without a replica", Valid with { ReplicasPerShard = 0, MultiAz = false }, ErrorCodes.InvalidParameterCombination, "automaticFailover" },
        { "multi-az without failover", Valid with { AutomaticFailover = false }, ErrorCodes.InvalidParameterCombination, "multiAz" },
        { "multi-az without a replica", ValidEnabled with { ReplicasPerShard = 0 }, ErrorCodes.InvalidParameterCombination, "multiAz" },
        { "enabled without failover", ValidEnabled with { AutomaticFailover = false, MultiAz = false }, ErrorCodes.InvalidParameterCombination, "automaticFailover" },
        { "node quota reached exactly", ValidEnabled with { NumShards = 45, ReplicasPerShard = 1 }, null, null },
        { "node quota exceeded", ValidEnabled with { NumShards = 31, ReplicasPerShard = 2 }, ErrorCodes.NodeQuotaForClusterExceeded, "numShards" },
        { "custom slots covering every slot", ValidEnabled with { Shards = Shards("0-100,200-16383", "101-150", "151-199") }, null, null },
        { "custom slots with a gap", ValidEnabled with { Shards = Shards("0-100", "101-150", "152-16383") }, ErrorCodes.InvalidParameterValue, "shards" },
        { "custom slots overlapping", ValidEnabled with { Shards = Shards("0-100", "100-150", "151-16383") }, ErrorCodes.InvalidParameterValue, "shards[1].slots" },
        { "custom slots out of range", ValidEnabled with { Shards = Shards("0-100", "101-150", "151-16384") }, ErrorCodes.InvalidParameterValue, "shards[2].slots" },
        { "custom slots malformed", ValidEnabled with { Shards = Shards("0-100", "abc", "101-16383") }, ErrorCodes.InvalidParameterValue, "shards[1].slots" },
        { "custom slots with fewer entries than shards", ValidEnabled with { Shards = Shards("0-16383") }, ErrorCodes.InvalidParameterCombination, "shards" },
        { "shard layouts with cluster mode disabled", Valid with { Shards = Shards("0-16383") }, ErrorCodes.InvalidParameterCombination, "shards" },
        { "replica zones matching the replica count", ValidEnabled with { NumShards = 1, Shards = [new ShardSpec("0-16383", "az-a", ["az-b"])] }, null, null },
        { "replica zones not matching the replica count", ValidEnabled with { NumShards = 1, Shards = [new ShardSpec("0-16383", "az-a", ["az-b", "az-c"])] }, ErrorCodes.InvalidParameterCombination, "shards[0].replicaAzs" },
        { "unknown primary zone", ValidEnabled with { NumShards = 1, Shards = [new ShardSpec("0-16383", "az-x", ["az-b"])] }, ErrorCodes.InvalidParameterValue, "shards[0].primaryAz" },
        { "unknown replica zone", ValidEnabled with { NumShards = 1, Shards = [new ShardSpec("0-16383", "az-a", ["az-x"])] }, ErrorCodes.InvalidParameterValue, "shards[0].replicaAzs" },
        // As ElastiCache: a token only with TLS; a malformed token is told as such, with or without it.
        { "auth token without transit encryption", Valid with { AuthToken = "abcdefghijklmnop" }, ErrorCodes.InvalidParameterCombination, "authToken" },
        { "auth token of 128 characters without transit encryption", Valid with { AuthToken = "abcdefgh!&#$^<>-" + new string('x', 112) }, ErrorCodes.InvalidParameterCombination, "authToken" },
        { "auth token of 128 characters with every special character allowed", Valid with { TransitEncryption = true, AuthToken = "abcdefgh!&#$^<>-" + new string('x', 112) }, null, null },
        { "auth token too short with transit encryption", Valid with { TransitEncryption = true, AuthToken = "short-token-15ch" [..15] }, ErrorCodes.InvalidParameterValue, "authToken" },
        { "auth token too short", Valid with { AuthToken = "short-token-15ch" [..15] }, ErrorCodes.InvalidParameterValue, "authToken" },
        { "auth token too long", Valid with { AuthToken = new string('a', 129) }, ErrorCodes.InvalidParameterValue, "authToken" },
        { "auth token with an at sign", Valid with { AuthToken = "abcdefghijklmnop@" }, ErrorCodes.InvalidParameterValue, "authToken" },
        { "auth token with a double quote", Valid with { AuthToken = "abcdefghijklmnop\"" }, ErrorCodes.InvalidParameterValue, "authToken" },
        { "auth token with a slash", Valid with { AuthToken = "abcdefghijklmnop/" }, ErrorCodes.InvalidParameterValue, "authToken" },
        { "auth token with a space", Valid with { AuthToken = "abcdefgh ijklmnop" }, ErrorCodes.InvalidParameterValue, "authToken" },
        { "auth token with a non-ASCII letter", Valid with { AuthToken = "abcdefghijklmnopé" }, ErrorCodes.InvalidParameterValue, "authToken" },
        { "valid auth token with transit encryption", Valid with { TransitEncryption = true, AuthToken = "abcdefgh!&#$^<>-1" }, null, null },
        { "transit encryption mode without transit encryption", Valid with { TransitEncryptionMode = "preferred" }, ErrorCodes.InvalidParameterCombination, "transitEncryptionMode" },
        { "unknown transit encryption mode", Valid with { TransitEncryption = true, TransitEncryptionMode = "optional" }, ErrorCodes.InvalidParameterValue, "transitEncryptionMode" },
        { "retention of 35 days", Valid with { SnapshotRetentionLimit = 35 }, null, null },
        { "retention of 36 days", Valid with { SnapshotRetentionLimit = 36 }, ErrorCodes.InvalidParameterValue, "snapshotRetentionLimit" },
        { "negative retention", Valid with { SnapshotRetentionLimit = -1 }, ErrorCodes.InvalidParameterValue, "snapshotRetentionLimit" },
        { "window of 60 minutes", Valid with { SnapshotWindow = "05:00-06:00" }, null, null },
        { "window across midnight", Valid with { SnapshotWindow = "23:30-00:30" }, null, null },
        { "window of 59 minutes", Valid with { SnapshotWindow = "05:00-05:59" }, ErrorCodes.InvalidParameterValue, "snapshotWindow" },
        { "window malformed", Valid with { SnapshotWindow = "5-6" }, ErrorCodes.InvalidParameterValue, "snapshotWindow" },
        { "window with an hour of 24", Valid with { SnapshotWindow = "23:00-24:30" }, ErrorCodes.InvalidParameterValue, "snapshotWindow" },
        { "expiry in the future", Valid with { ExpiresAt = Now.AddHours(1) }, null, null },
        { "expiry in the past", Valid with { ExpiresAt = Now.AddSeconds(-1) }, ErrorCodes.InvalidParameterValue, "expiresAt" },
        { "restore source name malformed", Valid with { RestoreFromSnapshot = "-bad" }, ErrorCodes.InvalidParameterValue, "restoreFromSnapshot" },
    };

    [Theory]
    [MemberData(nameof(Rows))]
    public void Limits_table(string name, ReplicationGroupSpec spec, string? code, string? field)
    {
        var violations = ReplicationGroupRules.Validate(spec, new Limits(), Catalog, Now);
        if (code is null)
            Assert.True(violations.Count == 0, $"{name}: {string.Join("; ", violations)}");
        else
        {
            Assert.True(violations.Count > 0, $"{name}: expected {code} on {field}");
            Assert.Equal(code, violations[0].Code);
            Assert.Contains(violations, v => v.Field == field && v.Code == code);
        }
    }

    [Fact]
    public void Node_quota_is_configurable_up_to_500()
    {
        var spec = ValidEnabled with { NumShards = 250, ReplicasPerShard = 1 };
        Assert.Contains(ReplicationGroupRules.Validate(spec, new Limits(), Catalog, Now), v => v.Code == ErrorCodes.NodeQuotaForClusterExceeded);
        Assert.Empty(ReplicationGroupRules.Validate(spec, new Limits(NodeQuota: 500, ShardQuota: 500), Catalog, Now));
    }
}
