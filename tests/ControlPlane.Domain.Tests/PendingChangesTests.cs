using ControlPlane.Domain.Planning;

namespace ControlPlane.Domain.Tests;

/// <summary>What the planner's target reads from the typed pending changes: each field's meaning, one row each.</summary>
public sealed class PendingChangesTests
{
    public static TheoryData<string, PendingChanges, string> TargetRows => new()
    {
        { "a replica count change only reshapes", new PendingChanges { ReplicasPerShard = 2 }, "reshard False, refresh False, reboot -, engine -" },
        { "a shard count change moves slots", new PendingChanges { NumShards = 3 }, "reshard True, refresh False, reboot -, engine -" },
        { "a rebalance moves slots", new PendingChanges { Rebalance = true }, "reshard True, refresh False, reboot -, engine -" },
        { "outdated nodes are refreshed", new PendingChanges { OutdatedNodes = ["g-0001-002"] }, "reshard False, refresh True, reboot -, engine -" },
        { "a reboot names its nodes", new PendingChanges { RebootNodes = ["g-0001-001", "g-0001-002"] }, "reshard False, refresh False, reboot g-0001-001 g-0001-002, engine -" },
        { "an engine version upgrade targets the stored engine", new PendingChanges { EngineVersion = "7.2" }, "reshard False, refresh False, reboot -, engine redis 7.2" },
        { "an engine change too", new PendingChanges { Engine = "valkey" }, "reshard False, refresh False, reboot -, engine redis 7.2" },
        { "online changes ask nothing of the topology", new PendingChanges { AuthTokenUpdateStrategy = "rotate", TransitEncryptionMode = new Change<string?>(null) },
            "reshard False, refresh False, reboot -, engine -" },
    };

    [Theory]
    [MemberData(nameof(TargetRows))]
    public void The_target_reads_each_pending_change(string name, PendingChanges pending, string expected)
    {
        var target = GroupTarget.For(pending, 2, 1, "cache.small", "redis 7.2");
        var text = $"reshard {target.Reshard}, refresh {target.Refresh}, reboot {(target.Reboot is { } r ? string.Join(" ", r.Order(StringComparer.Ordinal)) : "-")}, engine {target.Engine ?? "-"}";
        Assert.True(expected == text, $"{name}: got {text}");
        Assert.Equal((2, 1, "cache.small"), (target.NumShards, target.ReplicasPerShard, target.NodeType));
    }

    [Fact]
    public void Only_no_field_at_all_is_empty()
    {
        Assert.True(PendingChanges.None.IsEmpty);
        Assert.False(new PendingChanges { RebootNodes = [] }.IsEmpty);
        Assert.False(new PendingChanges { TransitEncryptionMode = new Change<string?>(null) }.IsEmpty);
        Assert.Equal([], new PendingChanges { RebootNodes = ["a"] }.Rebooted("a").RebootNodes!);
        Assert.Null(PendingChanges.None.Rebooted("a").RebootNodes);
    }

    [Fact]
    public void Only_who_may_connect_and_how_are_online_changes()
    {
        Assert.False(PendingChanges.None.HasOnlineChange);
        Assert.False(new PendingChanges { NodeType = "cache.medium" }.HasOnlineChange);
        Assert.True(new PendingChanges { NodeType = "cache.medium", AuthTokenUpdateStrategy = "rotate" } is { HasOnlineChange: true, ChangesUsers: true });
        Assert.True(new PendingChanges { UserGroupIds = [] } is { HasOnlineChange: true, ChangesUsers: true });
        Assert.True(new PendingChanges { TransitEncryptionMode = new Change<string?>("required") } is { HasOnlineChange: true, ChangesUsers: false });
    }
}
