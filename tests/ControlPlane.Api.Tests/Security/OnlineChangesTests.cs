using ControlPlane.Api.Data;
using ControlPlane.Api.Security;
using ControlPlane.Domain;

namespace ControlPlane.Api.Tests.Security;

/// <summary>
/// When a group modifying for an online change may say available again, without I/O: which nodes
/// count (not failed, not on their way out), what each change waits for. The real nodes are
/// <see cref="ModifyingStatusTests"/>'.
/// </summary>
public sealed class OnlineChangesTests
{
    [Fact]
    public void Only_online_changes_are_pending_and_a_token_change_waits_for_every_node_that_takes_part()
    {
        Assert.False(OnlineChanges.Any(null));
        Assert.False(OnlineChanges.Any(PendingChangesJson.Read("""{"nodeType":"cache.medium"}""")));
        var pending = PendingChangesJson.Read("""{"nodeType":"cache.medium","authTokenUpdateStrategy":"rotate"}""");
        Assert.True(OnlineChanges.Any(pending));

        var group = Group(null, ("g-001", NodeStatus.Available, null), ("g-002", NodeStatus.Available, null), ("g-003", NodeStatus.Failed, null),
            ("g-004", NodeStatus.Deleting, null), ("g-005", NodeStatus.Creating, null));
        Assert.Equal("cache nodes g-002, g-005 do not hold the group's client users yet", OnlineChanges.Lagging(group, pending, new HashSet<string> { "g-001" }));
        // A failed node (replaced next) and one on its way out do not hold the group.
        Assert.Null(OnlineChanges.Lagging(group, pending, new HashSet<string> { "g-001", "g-002", "g-005" }));
        Assert.Equal("Modification complete for replication group g: the new auth token is accepted on every node, the previous one too until it is set",
            OnlineChanges.Done("g", pending));
    }

    [Fact]
    public void A_transit_step_waits_for_every_node_at_the_groups_mode_and_a_user_group_change_for_the_users()
    {
        var group = Group(TransitEncryptionModes.Required, ("g-001", NodeStatus.Available, TransitEncryptionModes.Required),
            ("g-002", NodeStatus.Available, TransitEncryptionModes.Preferred), ("g-003", NodeStatus.Failed, null));
        var pending = PendingChangesJson.Read("""{"transitEncryptionMode":"required","userGroupIds":["team"]}""");
        Assert.Equal("cache nodes g-002 do not hold the group's client users yet; cache nodes g-002 are not at transit encryption mode required yet",
            OnlineChanges.Lagging(group, pending, new HashSet<string> { "g-001" }));
        group.Shards[0].Nodes[1].TransitEncryptionMode = TransitEncryptionModes.Required;
        Assert.Null(OnlineChanges.Lagging(group, pending, new HashSet<string> { "g-001", "g-002" }));
        Assert.Equal("Modification complete for replication group g: every node holds the users of user group team; every node serves transit encryption mode required",
            OnlineChanges.Done("g", pending));
        // Without a user group: the nodes are open again.
        Assert.EndsWith("every node is open to clients without a user group", OnlineChanges.Done("g", PendingChangesJson.Read("""{"userGroupIds":[]}""")));
    }

    private static ReplicationGroupEntity Group(string? mode, params (string Id, NodeStatus Status, string? Mode)[] nodes) => new()
    {
        Id = "g", EngineVersion = "7.0", NodeType = "cache.small", TransitEncryptionMode = mode, TransitEncryption = mode is not null,
        Shards =
        [
            new ShardEntity
            {
                ReplicationGroupId = "g", Id = "0001", Slots = "0-16383",
                Nodes = nodes.Select(n => new RedisNodeEntity
                {
                    Id = n.Id, ReplicationGroupId = "g", ShardId = "0001", AvailabilityZone = "az-a", NodeType = "cache.small", Status = n.Status, TransitEncryptionMode = n.Mode,
                }).ToList(),
            },
        ],
    };
}
