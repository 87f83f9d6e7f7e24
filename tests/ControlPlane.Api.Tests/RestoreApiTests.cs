using System.Net;
using ControlPlane.Api.Data;
using ControlPlane.Api.Tests.Infrastructure;
using ControlPlane.Domain;

namespace ControlPlane.Api.Tests;

/// <summary>What a create from a snapshot stores: the snapshot's shards and slots, and a reshard when another count is asked for.</summary>
public sealed class RestoreApiTests(PostgresFixture postgres) : ApiTest(postgres)
{
    private static readonly string[] Slots = ["0-4999", "5000-11999", "12000-16383"];

    private async Task SnapshotAsync(string name, long bytesPerFile = 1000)
    {
        await using var db = Factory.NewDbContext();
        db.Snapshots.Add(new SnapshotEntity
        {
            Name = name, ReplicationGroupId = "gone", Status = SnapshotStatus.Available, Source = SnapshotSource.Manual,
            ClusterMode = ClusterMode.Enabled, EngineVersion = "7.0", NodeType = "cache.small", NumShards = 3, CreatedAt = DateTimeOffset.UtcNow,
            Files = Slots.Select((s, i) => new SnapshotFileEntity { SnapshotName = name, ShardId = Identifiers.ShardId(i), Slots = s, SizeBytes = bytesPerFile, Sha256 = "00" }).ToList(),
        });
        await db.SaveChangesAsync();
    }

    [Fact]
    public async Task A_restore_takes_the_snapshots_slots()
    {
        await SnapshotAsync("three");
        var group = await AssertAcceptedAsync(await PostAsync("/v1/replication-groups", new { id = "same", clusterMode = "enabled", numShards = 3, restoreFromSnapshot = "three" }));
        Assert.Equal(Slots, group["shards"]!.AsArray().Select(s => (string)s!["slots"]!));
        Assert.Null(group["pendingChanges"]);
    }

    [Fact]
    public async Task A_restore_into_another_shard_count_starts_in_the_snapshots_shape_with_a_reshard_pending()
    {
        await SnapshotAsync("three");
        var group = await AssertAcceptedAsync(await PostAsync("/v1/replication-groups", new { id = "wider", clusterMode = "enabled", numShards = 5, restoreFromSnapshot = "three" }));
        Assert.Equal(5, (int)group["numShards"]!);
        Assert.Equal(Slots, group["shards"]!.AsArray().Select(s => (string)s!["slots"]!));
        Assert.Equal(5, (int)group["pendingChanges"]!["numShards"]!);
    }

    [Fact]
    public async Task Shards_laid_out_with_other_slots_or_files_too_big_are_refused_with_nothing_stored()
    {
        await SnapshotAsync("three");
        await AssertProblemAsync(await PostAsync("/v1/replication-groups", new
        {
            id = "moved", clusterMode = "enabled", numShards = 3, restoreFromSnapshot = "three",
            shards = new[] { new { slots = "0-5460" }, new { slots = "5461-10922" }, new { slots = "10923-16383" } },
        }), HttpStatusCode.BadRequest, ErrorCodes.InvalidParameterCombination, "shards");

        await SnapshotAsync("huge", bytesPerFile: 200L << 20);
        await AssertProblemAsync(await PostAsync("/v1/replication-groups", new { id = "small", clusterMode = "enabled", numShards = 3, nodeType = "cache.micro", restoreFromSnapshot = "huge" }),
            HttpStatusCode.BadRequest, ErrorCodes.InvalidParameterValue, "numShards");
        Assert.Equal(0, await CountAsync(db => db.ReplicationGroups));
    }
}
