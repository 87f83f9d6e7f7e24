using System.Net;
using ControlPlane.Api.Tests.Infrastructure;
using ControlPlane.Domain;

namespace ControlPlane.Api.Tests;

/// <summary>Every rule of the limits table through the real API and Postgres: accepted, or 400 with nothing stored.</summary>
public sealed class LimitsApiTests(PostgresFixture postgres) : ApiTest(postgres)
{
    protected override IReadOnlyDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["ControlPlane:AvailabilityZones:0:Name"] = "az-a",
        ["ControlPlane:AvailabilityZones:1:Name"] = "az-b",
        ["ControlPlane:AvailabilityZones:2:Name"] = "az-c",
    };

    public static TheoryData<string, string, string?, string?> ReplicationGroupRows => new()
    {
        // body fields after "id", expected code (null = 202), expected field
        { "defaults", "", null, null },
        { "uppercase id is lowercased", "", null, null },
        { "description 255", "\"description\":\"" + new string('d', 255) + "\"", null, null },
        { "description 256", "\"description\":\"" + new string('d', 256) + "\"", ErrorCodes.InvalidParameterValue, "description" },
        { "engine version", "\"engineVersion\":\"7.0\"", null, null },
        { "unknown engine version", "\"engineVersion\":\"5.0\"", ErrorCodes.InvalidParameterValue, "engineVersion" },
        { "node type", "\"nodeType\":\"cache.medium\"", null, null },
        { "unknown node type", "\"nodeType\":\"cache.galactic\"", ErrorCodes.InvalidParameterValue, "nodeType" },
        { "disabled with 2 shards", "\"numShards\":2", ErrorCodes.InvalidParameterCombination, "numShards" },
        { "enabled with 500 shards over the default quota", "\"clusterMode\":\"enabled\",\"numShards\":500,\"replicasPerShard\":0", ErrorCodes.NodeGroupsPerReplicationGroupQuotaExceeded, "numShards" },
        { "enabled without replicas keeps failover on", "\"clusterMode\":\"enabled\",\"numShards\":2,\"replicasPerShard\":0", null, null },
        { "enabled with 501 shards", "\"clusterMode\":\"enabled\",\"numShards\":501", ErrorCodes.InvalidParameterValue, "numShards" },
        { "enabled with 0 shards", "\"clusterMode\":\"enabled\",\"numShards\":0", ErrorCodes.InvalidParameterValue, "numShards" },
        { "enabled with 3 shards and 2 replicas", "\"clusterMode\":\"enabled\",\"numShards\":3,\"replicasPerShard\":2", null, null },
        { "5 replicas", "\"replicasPerShard\":5", null, null },
        { "6 replicas", "\"replicasPerShard\":6", ErrorCodes.InvalidParameterValue, "replicasPerShard" },
        { "no replica, failover defaults off", "\"replicasPerShard\":0", null, null },
        { "failover without a replica", "\"replicasPerShard\":0,\"automaticFailover\":true", ErrorCodes.InvalidParameterCombination, "automaticFailover" },
        { "multi-az without failover", "\"automaticFailover\":false,\"multiAz\":true", ErrorCodes.InvalidParameterCombination, "multiAz" },
        { "enabled without failover", "\"clusterMode\":\"enabled\",\"automaticFailover\":false,\"multiAz\":false", ErrorCodes.InvalidParameterCombination, "automaticFailover" },
        { "node quota exceeded", "\"clusterMode\":\"enabled\",\"numShards\":46,\"replicasPerShard\":1", ErrorCodes.NodeQuotaForClusterExceeded, "numShards" },
        { "custom slots", "\"clusterMode\":\"enabled\",\"numShards\":2,\"replicasPerShard\":1,\"shards\":[{\"slots\":\"0-100,8000-16383\",\"primaryAz\":\"az-b\",\"replicaAzs\":[\"az-c\"]},{\"slots\":\"101-7999\"}]", null, null },
        { "custom slots overlapping", "\"clusterMode\":\"enabled\",\"numShards\":2,\"shards\":[{\"slots\":\"0-9000\"},{\"slots\":\"9000-16383\"}]", ErrorCodes.InvalidParameterValue, "shards[1].slots" },
        { "custom slots not covering", "\"clusterMode\":\"enabled\",\"numShards\":2,\"shards\":[{\"slots\":\"0-9000\"},{\"slots\":\"9002-16383\"}]", ErrorCodes.InvalidParameterValue, "shards" },
        { "replica zones wrong count", "\"clusterMode\":\"enabled\",\"numShards\":1,\"shards\":[{\"slots\":\"0-16383\",\"replicaAzs\":[\"az-b\",\"az-c\"]}]", ErrorCodes.InvalidParameterCombination, "shards[0].replicaAzs" },
        { "unknown zone", "\"clusterMode\":\"enabled\",\"numShards\":1,\"shards\":[{\"slots\":\"0-16383\",\"primaryAz\":\"az-z\"}]", ErrorCodes.InvalidParameterValue, "shards[0].primaryAz" },
        { "auth token with a space", "\"authToken\":\"abcdefgh ijklmnop\"", ErrorCodes.InvalidParameterValue, "authToken" },
        { "auth token and a user group", "\"transitEncryption\":true,\"authToken\":\"abcdefghijklmnop\",\"userGroupIds\":[\"ug\"]", ErrorCodes.InvalidParameterCombination, "userGroupIds" },
        { "auth token without transit encryption", "\"authToken\":\"abcdefghijklmnop\"", ErrorCodes.InvalidParameterCombination, "authToken" },
        { "auth token with transit encryption false", "\"transitEncryption\":false,\"authToken\":\"abcdefghijklmnop\"", ErrorCodes.InvalidParameterCombination, "authToken" },
        { "two user groups", "\"userGroupIds\":[\"ug-one\",\"ug-two\"]", ErrorCodes.InvalidParameterValue, "userGroupIds" },
        { "auth token too short", "\"transitEncryption\":true,\"authToken\":\"abc\"", ErrorCodes.InvalidParameterValue, "authToken" },
        { "auth token bad character", "\"transitEncryption\":true,\"authToken\":\"abcdefghijklmnop%\"", ErrorCodes.InvalidParameterValue, "authToken" },
        { "auth token with transit encryption", "\"transitEncryption\":true,\"authToken\":\"abcdefghijklmnop\"", null, null },
        { "retention 35", "\"snapshotRetentionLimit\":35,\"snapshotWindow\":\"03:00-04:00\"", null, null },
        { "retention 36", "\"snapshotRetentionLimit\":36", ErrorCodes.InvalidParameterValue, "snapshotRetentionLimit" },
        { "window too short", "\"snapshotWindow\":\"03:00-03:30\"", ErrorCodes.InvalidParameterValue, "snapshotWindow" },
        { "expiry in the past", "\"expiresAt\":\"2001-01-01T00:00:00Z\"", ErrorCodes.InvalidParameterValue, "expiresAt" },
        { "unknown field", "\"colour\":\"blue\"", ErrorCodes.InvalidParameterValue, "colour" },
        { "wrong type", "\"numShards\":\"three\"", ErrorCodes.InvalidParameterValue, "numShards" },
        { "unknown enum value", "\"clusterMode\":\"sometimes\"", ErrorCodes.InvalidParameterValue, "clusterMode" },
        { "restore from a missing snapshot", "\"restoreFromSnapshot\":\"nope\"", ErrorCodes.SnapshotNotFound, null },
    };

    [Theory]
    [MemberData(nameof(ReplicationGroupRows))]
    public async Task Replication_group_rules(string name, string fields, string? code, string? field)
    {
        var id = $"rg-{Math.Abs(name.GetHashCode()) % 1_000_000}";
        var requestId = name.StartsWith("uppercase", StringComparison.Ordinal) ? id.ToUpperInvariant() : id;
        var response = await Client.PostAsync("/v1/replication-groups", Json($"{{\"id\":\"{requestId}\"{(fields.Length > 0 ? "," : "")}{fields}}}"));
        if (code is null)
        {
            var body = await AssertAcceptedAsync(response);
            Assert.Equal(id, (string?)body["id"]);
            Assert.Equal($"/v1/replication-groups/{id}", response.Headers.Location?.ToString());
            return;
        }
        var status = code == ErrorCodes.SnapshotNotFound ? HttpStatusCode.NotFound : HttpStatusCode.BadRequest;
        await AssertProblemAsync(response, status, code, field);
        Assert.Equal(HttpStatusCode.NotFound, (await Client.GetAsync($"/v1/replication-groups/{id}")).StatusCode);
        Assert.Equal(0, await CountAsync(db => db.Events.Where(e => e.SourceId == id)));
    }

    public static TheoryData<string, string?, string?> CacheClusterRows => new()
    {
        { "\"engine\":\"memcached\"", null, null },
        { "\"engine\":\"memcached\",\"numNodes\":60", null, null },
        { "\"engine\":\"memcached\",\"numNodes\":61", ErrorCodes.InvalidParameterValue, "numNodes" },
        { "\"engine\":\"memcached\",\"numNodes\":0", ErrorCodes.InvalidParameterValue, "numNodes" },
        { "\"engine\":\"memcached\",\"numNodes\":2,\"azMode\":\"cross-az\"", null, null },
        { "\"engine\":\"memcached\",\"azMode\":\"cross-az\"", ErrorCodes.InvalidParameterCombination, "azMode" },
        { "\"engine\":\"memcached\",\"numNodes\":2,\"preferredAvailabilityZones\":[\"az-a\"]", ErrorCodes.InvalidParameterCombination, "preferredAvailabilityZones" },
        { "\"engine\":\"memcached\",\"numNodes\":2,\"preferredAvailabilityZones\":[\"az-a\",\"az-c\"]", null, null },
        { "\"engine\":\"redis\"", ErrorCodes.InvalidParameterCombination, "engine" },
        { "\"engine\":\"memcached\",\"engineVersion\":\"7.0\"", ErrorCodes.InvalidParameterValue, "engineVersion" },
        { "\"engine\":\"memcached\",\"nodeType\":\"cache.nope\"", ErrorCodes.InvalidParameterValue, "nodeType" },
        { "\"engine\":\"memcached\",\"shards\":[]", ErrorCodes.InvalidParameterValue, "shards" },
        { "\"numNodes\":1", ErrorCodes.InvalidParameterValue, null },
    };

    [Theory]
    [MemberData(nameof(CacheClusterRows))]
    public async Task Cache_cluster_rules(string fields, string? code, string? field)
    {
        var id = $"mc-{Math.Abs(fields.GetHashCode()) % 1_000_000}";
        var response = await Client.PostAsync("/v1/cache-clusters", Json($"{{\"id\":\"{id}\",{fields}}}"));
        if (code is null)
        {
            var body = await AssertAcceptedAsync(response);
            Assert.Equal((int?)body["numNodes"], body["nodes"]!.AsArray().Count);
            return;
        }
        await AssertProblemAsync(response, HttpStatusCode.BadRequest, code, field);
        Assert.Equal(HttpStatusCode.NotFound, (await Client.GetAsync($"/v1/cache-clusters/{id}")).StatusCode);
    }

    [Fact]
    public async Task Identifier_rules_apply_to_every_resource()
    {
        await AssertProblemAsync(await PostAsync("/v1/replication-groups", new { id = "9lives" }), HttpStatusCode.BadRequest, ErrorCodes.InvalidParameterValue, "id");
        await AssertProblemAsync(await PostAsync("/v1/replication-groups", new { id = "a--b" }), HttpStatusCode.BadRequest, ErrorCodes.InvalidParameterValue, "id");
        await AssertProblemAsync(await PostAsync("/v1/cache-clusters", new { id = "c-", engine = "memcached" }), HttpStatusCode.BadRequest, ErrorCodes.InvalidParameterValue, "id");
        await AssertProblemAsync(await PostAsync("/v1/snapshots", new { name = "Bad_Name", replicationGroupId = "x" }), HttpStatusCode.BadRequest, ErrorCodes.InvalidParameterValue, "name");
        Assert.Equal(0, await CountAsync(db => db.ReplicationGroups));
    }
}

/// <summary>The quotas come from configuration, up to 500 nodes.</summary>
public sealed class ConfiguredQuotaTests(PostgresFixture postgres) : ApiTest(postgres)
{
    protected override IReadOnlyDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["ControlPlane:NodeQuota"] = "500",
        ["ControlPlane:ShardQuota"] = "500",
        // The per-group quota is the subject here, not the tenant's.
        ["ControlPlane:TenantNodeQuota"] = "2000",
    };

    [Fact]
    public async Task A_raised_quota_admits_500_nodes_but_not_501()
    {
        await AssertAcceptedAsync(await PostAsync("/v1/replication-groups", new { id = "big", clusterMode = "enabled", numShards = 250, replicasPerShard = 1 }));
        await AssertProblemAsync(await PostAsync("/v1/replication-groups", new { id = "bigger", clusterMode = "enabled", numShards = 167, replicasPerShard = 2 }),
            HttpStatusCode.BadRequest, ErrorCodes.NodeQuotaForClusterExceeded, "numShards");
        var big = await BodyAsync(await Client.GetAsync("/v1/replication-groups/big"));
        Assert.Equal(250, big["shards"]!.AsArray().Count);
    }
}
