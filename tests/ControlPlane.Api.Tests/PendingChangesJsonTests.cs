using System.Text.Json.Nodes;
using ControlPlane.Api.Data;
using ControlPlane.Domain.Planning;

namespace ControlPlane.Api.Tests;

/// <summary>
/// The one mapper of pending and scheduled changes, without I/O: the JSON rows written before it was
/// typed read back to the same fields and write out to the same JSON (so stored rows and the
/// pendingChanges the API shows do not change).
/// </summary>
public sealed class PendingChangesJsonTests
{
    public static TheoryData<string, string> StoredRows => new()
    {
        { "a reboot", """{"rebootNodes":["g-0001-001","g-0001-002"]}""" },
        { "a reboot half done", """{"rebootNodes":[]}""" },
        { "a refresh of outdated nodes", """{"outdatedNodes":["g-0001-002"]}""" },
        { "a restore into another shard count", """{"numShards":5}""" },
        { "a reshard under way", """{"numShards":3,"slotMigration":{"totalSlots":5462,"progressPercentage":37.5}}""" },
        { "a reshard done", """{"rebalance":true,"slotMigration":{"totalSlots":0,"progressPercentage":100}}""" },
        { "a node type and replica change", """{"nodeType":"cache.medium","replicasPerShard":2}""" },
        { "an upgrade", """{"engine":"valkey","engineVersion":"8.0"}""" },
        { "transit encryption turned off", """{"transitEncryptionMode":null}""" },
        { "online changes", """{"transitEncryptionMode":"preferred","authTokenUpdateStrategy":"rotate","userGroupIds":["team"]}""" },
        { "a user group removed", """{"userGroupIds":[]}""" },
        { "a Memcached scale-in", """{"numNodes":2,"nodeIdsToRemove":["mc-0004","mc-0003"]}""" },
        { "a scheduled upgrade with its parameter group", """{"engine":"valkey","engineVersion":"8.0","parameterGroupName":null}""" },
        { "a scheduled node type change", """{"nodeType":"cache.large"}""" },
    };

    [Theory]
    [MemberData(nameof(StoredRows))]
    public void A_stored_row_reads_and_writes_back_unchanged(string name, string json)
    {
        var written = PendingChangesJson.Write(PendingChangesJson.Read(json));
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse(json), JsonNode.Parse(written)), $"{name}: {json} became {written}");
    }

    [Fact]
    public void Fields_keep_their_meaning_and_order_does_not_matter()
    {
        var changes = PendingChangesJson.Read("""{"replicasPerShard":0,"nodeType":"cache.small","numShards":2,"rebootNodes":["a"],"transitEncryptionMode":null}""");
        Assert.Equal((0, "cache.small", 2, true), (changes.ReplicasPerShard, changes.NodeType, changes.NumShards, changes.Reshards));
        Assert.Equal(["a"], changes.RebootNodes!);
        Assert.Equal(new Change<string?>(null), changes.TransitEncryptionMode);
        Assert.Null(changes.ParameterGroupName);
        Assert.False(changes.Upgrades);
        Assert.Equal(["nodeType", "replicasPerShard", "transitEncryptionMode", "numShards", "rebootNodes"], PendingChangesJson.Fields(changes));
    }

    [Fact]
    public void A_rebooted_node_leaves_the_list_and_migration_progress_is_kept_with_its_total()
    {
        var changes = PendingChangesJson.Read("""{"rebootNodes":["a","b"]}""").Rebooted("a");
        Assert.Equal("""{"rebootNodes":["b"]}""", PendingChangesJson.Write(changes));
        var migrating = new PendingChanges { NumShards = 3 }.WithSlotMigration(200, 200).WithSlotMigration(null, 50);
        Assert.Equal("""{"numShards":3,"slotMigration":{"totalSlots":200,"progressPercentage":75}}""", PendingChangesJson.Write(migrating));
    }
}
