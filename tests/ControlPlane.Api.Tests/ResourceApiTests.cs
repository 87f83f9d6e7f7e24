using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using ControlPlane.Api.Tests.Infrastructure;
using ControlPlane.Domain;

namespace ControlPlane.Api.Tests;

public sealed class PagingTests(PostgresFixture postgres) : ApiTest(postgres)
{
    [Fact]
    public async Task Lists_page_with_a_cursor_until_every_item_is_seen_once()
    {
        for (var i = 0; i < 7; i++)
            await AssertAcceptedAsync(await PostAsync("/v1/replication-groups", new { id = $"page-{i}", replicasPerShard = 0 }));
        var seen = new List<string>();
        string? cursor = null;
        var pages = 0;
        do
        {
            var page = await BodyAsync(await Client.GetAsync($"/v1/replication-groups?limit=3{(cursor is null ? "" : $"&cursor={cursor}")}"));
            seen.AddRange(page["items"]!.AsArray().Select(g => (string)g!["id"]!));
            cursor = (string?)page["nextCursor"];
            pages++;
        } while (cursor is not null);
        Assert.Equal(3, pages);
        Assert.Equal(Enumerable.Range(0, 7).Select(i => $"page-{i}"), seen);
    }

    [Theory]
    [InlineData("limit=0", "limit")]
    [InlineData("limit=101", "limit")]
    [InlineData("cursor=%%%", "cursor")]
    public async Task Bad_paging_parameters_are_400(string query, string field) =>
        await AssertProblemAsync(await Client.GetAsync($"/v1/replication-groups?{query}"), HttpStatusCode.BadRequest, ErrorCodes.InvalidParameterValue, field);

    [Fact]
    public async Task Default_page_is_100()
    {
        for (var i = 0; i < 101; i++)
            await AssertAcceptedAsync(await PostAsync("/v1/cache-clusters", new { id = $"mc-{i:000}", engine = "memcached" }));
        var page = await BodyAsync(await Client.GetAsync("/v1/cache-clusters"));
        Assert.Equal(100, page["items"]!.AsArray().Count);
        Assert.NotNull((string?)page["nextCursor"]);
    }
}

public sealed class ETagTests(PostgresFixture postgres) : ApiTest(postgres)
{
    [Fact]
    public async Task A_stale_If_Match_is_412_and_changes_nothing()
    {
        var created = await AssertAcceptedAsync(await PostAsync("/v1/replication-groups", new { id = "tagged" }));
        await MarkAvailableAsync("tagged");
        var current = await Client.GetAsync("/v1/replication-groups/tagged");
        var etag = current.Headers.ETag!.ToString();
        Assert.NotEqual((string?)created["etag"], etag); // the reconciler's write moved it on

        await AssertProblemAsync(await PatchAsync("/v1/replication-groups/tagged", new { description = "stale" }, (string?)created["etag"]),
            HttpStatusCode.PreconditionFailed, ErrorCodes.PreconditionFailed);
        Assert.Equal("", (string?)(await BodyAsync(await Client.GetAsync("/v1/replication-groups/tagged")))["description"]);

        var patched = await PatchAsync("/v1/replication-groups/tagged", new { description = "fresh" }, etag);
        var body = await AssertAcceptedAsync(patched);
        Assert.Equal("fresh", (string?)body["description"]);
        Assert.NotEqual(etag, (string?)body["etag"]);
        Assert.Equal((string?)body["etag"], patched.Headers.ETag?.ToString());

        var delete = new HttpRequestMessage(HttpMethod.Delete, "/v1/replication-groups/tagged");
        delete.Headers.TryAddWithoutValidation("If-Match", etag);
        await AssertProblemAsync(await Client.SendAsync(delete), HttpStatusCode.PreconditionFailed, ErrorCodes.PreconditionFailed);
    }

    [Fact]
    public async Task If_Match_star_and_the_current_etag_are_accepted()
    {
        await AssertAcceptedAsync(await PostAsync("/v1/cache-clusters", new { id = "starred", engine = "memcached" }));
        await MarkClusterAvailableAsync("starred");
        await AssertAcceptedAsync(await PatchAsync("/v1/cache-clusters/starred", new { numNodes = 2 }, "*"));
        var etag = (await Client.GetAsync("/v1/cache-clusters/starred")).Headers.ETag!.ToString();
        var delete = new HttpRequestMessage(HttpMethod.Delete, "/v1/cache-clusters/starred");
        delete.Headers.TryAddWithoutValidation("If-Match", etag);
        await AssertProblemAsync(await Client.SendAsync(delete), HttpStatusCode.Conflict, ErrorCodes.InvalidCacheClusterState); // modifying now
    }
}

public sealed class PatchTests(PostgresFixture postgres) : ApiTest(postgres)
{
    [Fact]
    public async Task Patching_a_group_that_is_not_available_is_409()
    {
        await AssertAcceptedAsync(await PostAsync("/v1/replication-groups", new { id = "busy" }));
        await AssertProblemAsync(await PatchAsync("/v1/replication-groups/busy", new { description = "x" }), HttpStatusCode.Conflict, ErrorCodes.InvalidReplicationGroupState);
    }

    [Theory]
    [InlineData("{\"clusterMode\":\"enabled\"}", ErrorCodes.InvalidParameterCombination, "clusterMode")]
    [InlineData("{\"engineVersion\":\"6.2\"}", ErrorCodes.InvalidParameterValue, "engineVersion")]
    [InlineData("{\"id\":\"other\"}", ErrorCodes.InvalidParameterCombination, "id")]
    [InlineData("{\"colour\":\"red\"}", ErrorCodes.InvalidParameterValue, "colour")]
    [InlineData("{\"replicasPerShard\":6}", ErrorCodes.InvalidParameterValue, "replicasPerShard")]
    [InlineData("{\"replicasPerShard\":0}", ErrorCodes.InvalidParameterCombination, "automaticFailover")]
    [InlineData("{\"replicasPerShard\":null}", ErrorCodes.InvalidParameterValue, "replicasPerShard")]
    [InlineData("{\"numShards\":2}", ErrorCodes.InvalidParameterCombination, "numShards")]
    [InlineData("{\"nodeType\":\"cache.nope\"}", ErrorCodes.InvalidParameterValue, "nodeType")]
    [InlineData("{\"authToken\":\"abcdefghijklmnop\",\"authTokenUpdateStrategy\":\"set\"}", ErrorCodes.InvalidParameterCombination, "authTokenUpdateStrategy")]
    [InlineData("{\"authToken\":\"abcdefghijklmnop\"}", ErrorCodes.InvalidParameterCombination, "authTokenUpdateStrategy")]
    [InlineData("{\"authToken\":\"abcdefgh@ijklmnop\",\"authTokenUpdateStrategy\":\"rotate\"}", ErrorCodes.InvalidParameterValue, "authToken")]
    [InlineData("{\"authTokenUpdateStrategy\":\"rotate\"}", ErrorCodes.InvalidParameterValue, "authToken")]
    [InlineData("{\"userGroupIdsToRemove\":[\"not-used\"]}", ErrorCodes.InvalidParameterValue, "userGroupIdsToRemove")]
    [InlineData("{\"authTokenUpdateStrategy\":\"delete\"}", ErrorCodes.InvalidParameterCombination, "authTokenUpdateStrategy")]
    [InlineData("{\"snapshotRetentionLimit\":40}", ErrorCodes.InvalidParameterValue, "snapshotRetentionLimit")]
    [InlineData("{\"description\":\"\"}", ErrorCodes.NoOperation, null)]
    [InlineData("{\"replicasPerShard\":1}", ErrorCodes.NoOperation, null)]
    [InlineData("{}", ErrorCodes.NoOperation, null)]
    [InlineData("[1]", ErrorCodes.InvalidParameterValue, "body")]
    public async Task Bad_patches_are_refused_and_change_nothing(string patch, string code, string? field)
    {
        // With transit encryption, so that the token rows meet the token rules, not the TLS one (below).
        await AssertAcceptedAsync(await PostAsync("/v1/replication-groups", new { id = "steady", transitEncryption = true }));
        await MarkAvailableAsync("steady");
        var before = await Client.GetStringAsync("/v1/replication-groups/steady");
        var response = await Client.PatchAsync("/v1/replication-groups/steady", Json(patch, "application/merge-patch+json"));
        await AssertProblemAsync(response, HttpStatusCode.BadRequest, code, field);
        Assert.Equal(before, await Client.GetStringAsync("/v1/replication-groups/steady"));
    }

    [Theory]
    [InlineData("{\"authToken\":\"abcdefghijklmnop\",\"authTokenUpdateStrategy\":\"rotate\"}")]
    [InlineData("{\"authToken\":\"abcdefghijklmnop\",\"authTokenUpdateStrategy\":\"set\"}")]
    public async Task A_token_is_refused_on_a_group_without_transit_encryption_and_changes_nothing(string patch)
    {
        await AssertAcceptedAsync(await PostAsync("/v1/replication-groups", new { id = "plain" }));
        await MarkAvailableAsync("plain");
        var before = await Client.GetStringAsync("/v1/replication-groups/plain");
        var response = await Client.PatchAsync("/v1/replication-groups/plain", Json(patch, "application/merge-patch+json"));
        await AssertProblemAsync(response, HttpStatusCode.BadRequest, ErrorCodes.InvalidParameterCombination, "authToken");
        Assert.Equal(before, await Client.GetStringAsync("/v1/replication-groups/plain"));
        Assert.Equal(0, await CountAsync(db => db.ReplicationGroups.Where(g => g.Id.EndsWith("plain") && (g.AuthTokens != null || g.AuthTokenHash != null))));
    }

    [Fact]
    public async Task A_token_may_come_with_the_step_to_transit_encryption()
    {
        await AssertAcceptedAsync(await PostAsync("/v1/replication-groups", new { id = "stepping" }));
        await MarkAvailableAsync("stepping");
        var body = await AssertAcceptedAsync(await PatchAsync("/v1/replication-groups/stepping",
            new { transitEncryption = true, transitEncryptionMode = "preferred", authToken = "abcdefghijklmnop", authTokenUpdateStrategy = "rotate" }));
        Assert.True((bool)body["authTokenEnabled"]!);
        Assert.Equal("preferred", (string?)body["transitEncryptionMode"]);
    }

    [Fact]
    public async Task Patching_topology_marks_the_group_modifying_with_pending_changes()
    {
        await AssertAcceptedAsync(await PostAsync("/v1/replication-groups", new { id = "grow", clusterMode = "enabled", numShards = 2 }));
        await MarkAvailableAsync("grow");
        var body = await AssertAcceptedAsync(await PatchAsync("/v1/replication-groups/grow", new { numShards = 3, replicasPerShard = 2, description = "bigger" }));
        Assert.Equal("modifying", (string?)body["status"]);
        Assert.Equal(3, (int?)body["numShards"]);
        Assert.Equal(3, (int?)body["pendingChanges"]!["numShards"]);
        Assert.Equal(2, (int?)body["pendingChanges"]!["replicasPerShard"]);
        Assert.Null(body["pendingChanges"]!["description"]);
        await AssertProblemAsync(await PatchAsync("/v1/replication-groups/grow", new { description = "again" }), HttpStatusCode.Conflict, ErrorCodes.InvalidReplicationGroupState);
    }

    [Fact]
    public async Task Same_shard_count_on_a_balanced_group_is_NoOperation()
    {
        await AssertAcceptedAsync(await PostAsync("/v1/replication-groups", new { id = "even", clusterMode = "enabled", numShards = 3 }));
        await MarkAvailableAsync("even");
        await AssertProblemAsync(await PatchAsync("/v1/replication-groups/even", new { numShards = 3 }), HttpStatusCode.BadRequest, ErrorCodes.NoOperation);
    }

    [Fact]
    public async Task Same_shard_count_on_an_unbalanced_group_is_a_rebalance()
    {
        await AssertAcceptedAsync(await PostAsync("/v1/replication-groups",
            new { id = "lopsided", clusterMode = "enabled", numShards = 2, shards = new[] { new { slots = "0-12000" }, new { slots = "12001-16383" } } }));
        await MarkAvailableAsync("lopsided");
        var body = await AssertAcceptedAsync(await PatchAsync("/v1/replication-groups/lopsided", new { numShards = 2 }));
        Assert.True((bool?)body["pendingChanges"]!["rebalance"]);
    }

    [Fact]
    public async Task Policy_fields_apply_at_once_and_the_group_stays_available()
    {
        await AssertAcceptedAsync(await PostAsync("/v1/replication-groups", new { id = "policy", replicasPerShard = 2 }));
        await MarkAvailableAsync("policy");
        var expires = DateTimeOffset.UtcNow.AddDays(1);
        var body = await AssertAcceptedAsync(await PatchAsync("/v1/replication-groups/policy",
            new { multiAz = false, snapshotRetentionLimit = 7, snapshotWindow = "02:00-03:00", expiresAt = expires }));
        Assert.Equal("available", (string?)body["status"]);
        Assert.False((bool?)body["multiAz"]);
        Assert.Equal(7, (int?)body["snapshotRetentionLimit"]);
        Assert.Null(body["pendingChanges"]);
        body = await AssertAcceptedAsync(await Client.PatchAsync("/v1/replication-groups/policy", Json("{\"expiresAt\":null}", "application/merge-patch+json")));
        Assert.Null(body["expiresAt"]);
    }

    [Fact]
    public async Task Memcached_patch_rules()
    {
        await AssertAcceptedAsync(await PostAsync("/v1/cache-clusters", new { id = "mc", engine = "memcached", numNodes = 3 }));
        await MarkClusterAvailableAsync("mc");
        await AssertProblemAsync(await PatchAsync("/v1/cache-clusters/mc", new { azMode = "cross-az" }), HttpStatusCode.BadRequest, ErrorCodes.InvalidParameterCombination, "azMode");
        await AssertProblemAsync(await PatchAsync("/v1/cache-clusters/mc", new { numNodes = 61 }), HttpStatusCode.BadRequest, ErrorCodes.InvalidParameterValue, "numNodes");
        await AssertProblemAsync(await PatchAsync("/v1/cache-clusters/mc", new { numNodes = 3 }), HttpStatusCode.BadRequest, ErrorCodes.NoOperation);
        await AssertProblemAsync(await PatchAsync("/v1/cache-clusters/mc", new { numNodes = 2, nodeIdsToRemove = new[] { "mc-0009" } }), HttpStatusCode.BadRequest, ErrorCodes.InvalidParameterValue, "nodeIdsToRemove");
        await AssertProblemAsync(await PatchAsync("/v1/cache-clusters/mc", new { numNodes = 1, nodeIdsToRemove = new[] { "mc-0001" } }), HttpStatusCode.BadRequest, ErrorCodes.InvalidParameterCombination, "nodeIdsToRemove");
        var body = await AssertAcceptedAsync(await PatchAsync("/v1/cache-clusters/mc", new { numNodes = 2, nodeIdsToRemove = new[] { "mc-0001" } }));
        Assert.Equal("modifying", (string?)body["status"]);
        Assert.Equal("mc-0001", (string?)body["pendingChanges"]!["nodeIdsToRemove"]![0]);
        await AssertProblemAsync(await PatchAsync("/v1/cache-clusters/mc", new { numNodes = 4 }), HttpStatusCode.Conflict, ErrorCodes.InvalidCacheClusterState);
    }
}

public sealed class DeleteAndSnapshotTests(PostgresFixture postgres) : ApiTest(postgres)
{
    [Fact]
    public async Task Delete_marks_the_group_deleting_and_a_second_delete_is_409()
    {
        await AssertAcceptedAsync(await PostAsync("/v1/replication-groups", new { id = "gone" }));
        var body = await AssertAcceptedAsync(await Client.DeleteAsync("/v1/replication-groups/gone"));
        Assert.Equal("deleting", (string?)body["status"]);
        await AssertProblemAsync(await Client.DeleteAsync("/v1/replication-groups/gone"), HttpStatusCode.Conflict, ErrorCodes.InvalidReplicationGroupState);
        await AssertProblemAsync(await Client.DeleteAsync("/v1/replication-groups/never"), HttpStatusCode.NotFound, ErrorCodes.ReplicationGroupNotFound);
    }

    [Fact]
    public async Task Final_snapshot_rules()
    {
        await AssertAcceptedAsync(await PostAsync("/v1/cache-clusters", new { id = "mcfinal", engine = "memcached" }));
        await AssertProblemAsync(await Client.DeleteAsync("/v1/cache-clusters/mcfinal?finalSnapshotName=last"), HttpStatusCode.BadRequest, ErrorCodes.SnapshotFeatureNotSupported);
        await AssertAcceptedAsync(await PostAsync("/v1/replication-groups", new { id = "final" }));
        await AssertProblemAsync(await Client.DeleteAsync("/v1/replication-groups/final?finalSnapshotName=Bad_"), HttpStatusCode.BadRequest, ErrorCodes.InvalidParameterValue, "finalSnapshotName");
        await MarkAvailableAsync("final");
        var body = await AssertAcceptedAsync(await Client.DeleteAsync("/v1/replication-groups/final?finalSnapshotName=final-last"));
        Assert.Equal("deleting", (string?)body["status"]);
        await using var db = Factory.NewDbContext();
        Assert.Equal("final-last", db.ReplicationGroups.Single(g => g.Id == "final").FinalSnapshotName);
    }

    [Fact]
    public async Task Snapshot_records_follow_the_contract()
    {
        await AssertAcceptedAsync(await PostAsync("/v1/cache-clusters", new { id = "memc", engine = "memcached" }));
        await AssertProblemAsync(await PostAsync("/v1/snapshots", new { name = "s1", replicationGroupId = "memc" }), HttpStatusCode.BadRequest, ErrorCodes.SnapshotFeatureNotSupported);
        await AssertProblemAsync(await PostAsync("/v1/snapshots", new { name = "s1", replicationGroupId = "nope" }), HttpStatusCode.NotFound, ErrorCodes.ReplicationGroupNotFound);
        await AssertAcceptedAsync(await PostAsync("/v1/replication-groups", new { id = "snappy", clusterMode = "enabled", numShards = 3 }));
        await AssertProblemAsync(await PostAsync("/v1/snapshots", new { name = "s1", replicationGroupId = "snappy" }), HttpStatusCode.Conflict, ErrorCodes.InvalidReplicationGroupState);
        await MarkAvailableAsync("snappy");
        var response = await PostAsync("/v1/snapshots", new { name = "s1", replicationGroupId = "snappy" });
        var body = await AssertAcceptedAsync(response);
        Assert.Equal("/v1/snapshots/s1", response.Headers.Location?.ToString());
        Assert.Equal("creating", (string?)body["status"]);
        Assert.Equal("manual", (string?)body["source"]);
        Assert.Equal("enabled", (string?)body["clusterMode"]);
        Assert.Equal(3, (int?)body["numShards"]);
        await AssertProblemAsync(await PostAsync("/v1/snapshots", new { name = "s1", replicationGroupId = "snappy" }), HttpStatusCode.Conflict, ErrorCodes.SnapshotAlreadyExists);
        await AssertProblemAsync(await PostAsync("/v1/snapshots/s1/copy", new { targetName = "s2" }), HttpStatusCode.Conflict, ErrorCodes.InvalidSnapshotState);
        await AssertProblemAsync(await PostAsync("/v1/snapshots/nope/copy", new { targetName = "s2" }), HttpStatusCode.NotFound, ErrorCodes.SnapshotNotFound);
        await AssertProblemAsync(await Client.DeleteAsync("/v1/snapshots/s1"), HttpStatusCode.Conflict, ErrorCodes.InvalidSnapshotState);
        await AssertProblemAsync(await PostAsync("/v1/replication-groups", new { id = "restored", restoreFromSnapshot = "s1" }), HttpStatusCode.Conflict, ErrorCodes.InvalidSnapshotState);
        var list = await BodyAsync(await Client.GetAsync("/v1/snapshots?replicationGroupId=snappy"));
        Assert.Equal("s1", (string?)list["items"]![0]!["name"]);
        Assert.Empty((await BodyAsync(await Client.GetAsync("/v1/snapshots?replicationGroupId=other")))["items"]!.AsArray());
    }

    [Fact]
    public async Task An_enabled_snapshot_cannot_seed_a_disabled_group()
    {
        await AssertAcceptedAsync(await PostAsync("/v1/replication-groups", new { id = "src", clusterMode = "enabled", numShards = 2 }));
        await MarkAvailableAsync("src");
        await AssertAcceptedAsync(await PostAsync("/v1/snapshots", new { name = "src-snap", replicationGroupId = "src" }));
        await using (var db = Factory.NewDbContext())
        {
            var snapshot = db.Snapshots.Single(s => s.Name == "src-snap");
            snapshot.Status = SnapshotStatus.Available;
            await db.SaveChangesAsync();
        }
        await AssertProblemAsync(await PostAsync("/v1/replication-groups", new { id = "dst", restoreFromSnapshot = "src-snap" }),
            HttpStatusCode.BadRequest, ErrorCodes.InvalidParameterCombination, "restoreFromSnapshot");
        await AssertAcceptedAsync(await PostAsync("/v1/replication-groups", new { id = "dst", clusterMode = "enabled", numShards = 2, restoreFromSnapshot = "src-snap" }));
        await AssertAcceptedAsync(await PostAsync("/v1/snapshots/src-snap/copy", new { targetName = "src-copy" }));
    }
}

public sealed class TestFailoverApiTests(PostgresFixture postgres) : ApiTest(postgres)
{
    [Fact]
    public async Task Test_failover_checks_shard_state_and_the_daily_budget()
    {
        await AssertAcceptedAsync(await PostAsync("/v1/replication-groups", new { id = "tf", clusterMode = "enabled", numShards = 16, replicasPerShard = 1 }));
        await AssertProblemAsync(await PostAsync("/v1/replication-groups/tf/test-failover", new { shardId = "0001" }), HttpStatusCode.Conflict, ErrorCodes.InvalidReplicationGroupState);
        await MarkAvailableAsync("tf");
        await AssertProblemAsync(await PostAsync("/v1/replication-groups/tf/test-failover", new { shardId = "0099" }), HttpStatusCode.NotFound, ErrorCodes.NodeGroupNotFound);
        for (var i = 1; i <= Limits.TestFailoverShardsPerDay; i++)
        {
            await AssertAcceptedAsync(await PostAsync("/v1/replication-groups/tf/test-failover", new { shardId = $"{i:0000}" }));
            await MarkAvailableAsync("tf");
        }
        await AssertProblemAsync(await PostAsync("/v1/replication-groups/tf/test-failover", new { shardId = "0016" }), HttpStatusCode.TooManyRequests, ErrorCodes.TestFailoverNotAvailable);
        Factory.Clock.Advance(TimeSpan.FromHours(24) + TimeSpan.FromSeconds(1));
        await AssertAcceptedAsync(await PostAsync("/v1/replication-groups/tf/test-failover", new { shardId = "0016" }));
        var events = await BodyAsync(await Client.GetAsync($"/v1/events?sourceId=tf&since={Uri.EscapeDataString(DateTimeOffset.UtcNow.AddHours(-1).ToString("O"))}&until={Uri.EscapeDataString(Factory.Clock.GetUtcNow().AddMinutes(1).ToString("O"))}"));
        Assert.Contains(events["items"]!.AsArray(), e => (string?)e!["message"] == "Test Failover API called for node group 0016");
    }
}
