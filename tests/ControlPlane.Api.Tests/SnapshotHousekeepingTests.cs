using System.Net;
using System.Text;
using ControlPlane.Api.Data;
using ControlPlane.Api.Snapshots;
using ControlPlane.Api.Tests.Infrastructure;
using ControlPlane.Domain;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace ControlPlane.Api.Tests;

/// <summary>Manual snapshots, copies, deletions and automated snapshots; the test plays the reconciler's part.</summary>
public sealed class SnapshotHousekeepingTests(PostgresFixture postgres) : ApiTest(postgres)
{
    private SnapshotHousekeeping Housekeeping => Factory.Services.GetRequiredService<SnapshotHousekeeping>();
    private ISnapshotStore Store => Factory.Services.GetRequiredService<ISnapshotStore>();

    [Fact]
    public async Task A_manual_snapshot_sets_its_group_snapshotting()
    {
        await AssertAcceptedAsync(await PostAsync("/v1/replication-groups", new { id = "snapgrp" }));
        await MarkAvailableAsync("snapgrp");
        var body = await AssertAcceptedAsync(await PostAsync("/v1/snapshots", new { name = "snap-one", replicationGroupId = "snapgrp" }));
        Assert.Equal("creating", (string?)body["status"]);
        var group = await BodyAsync(await Client.GetAsync("/v1/replication-groups/snapgrp"));
        Assert.Equal("snapshotting", (string?)group["status"]);
        await AssertProblemAsync(await PostAsync("/v1/snapshots", new { name = "snap-two", replicationGroupId = "snapgrp" }),
            HttpStatusCode.Conflict, ErrorCodes.InvalidReplicationGroupState);
    }

    [Fact]
    public async Task The_21st_manual_snapshot_in_24_hours_is_refused_even_when_some_were_deleted()
    {
        await AssertAcceptedAsync(await PostAsync("/v1/replication-groups", new { id = "quota" }));
        for (var i = 1; i <= Limits.ManualSnapshotsPerDay; i++)
        {
            await MarkAvailableAsync("quota");
            await AssertAcceptedAsync(await PostAsync("/v1/snapshots", new { name = $"quota-{i}", replicationGroupId = "quota" }));
            Factory.Clock.Advance(TimeSpan.FromMinutes(1));
        }
        // Deleting two does not give them back.
        await SetSnapshotStatusAsync("quota-1", SnapshotStatus.Available);
        await SetSnapshotStatusAsync("quota-2", SnapshotStatus.Available);
        await AssertAcceptedAsync(await Client.DeleteAsync("/v1/snapshots/quota-1"));
        await AssertAcceptedAsync(await Client.DeleteAsync("/v1/snapshots/quota-2"));
        await Housekeeping.RunAsync(CancellationToken.None);
        Assert.Equal(Limits.ManualSnapshotsPerDay - 2, await CountAsync(db => db.Snapshots.Where(s => s.ReplicationGroupId == "quota")));

        await MarkAvailableAsync("quota");
        await AssertProblemAsync(await PostAsync("/v1/snapshots", new { name = "quota-21", replicationGroupId = "quota" }),
            HttpStatusCode.TooManyRequests, ErrorCodes.SnapshotQuotaExceeded);
        await using (var db = Factory.NewDbContext())
        {
            Assert.False(await db.Snapshots.AnyAsync(s => s.Name == "quota-21"));
            Assert.Equal(GroupStatus.Available, (await db.ReplicationGroups.SingleAsync(g => g.Id == "quota")).Status);
            Assert.Equal(Limits.ManualSnapshotsPerDay, await db.SnapshotRequests.CountAsync(r => r.ReplicationGroupId == "quota"));
        }

        // The window rolls: 24 hours after the first request, one is free again.
        Factory.Clock.Advance(TimeSpan.FromHours(24) - TimeSpan.FromMinutes(Limits.ManualSnapshotsPerDay) + TimeSpan.FromSeconds(1));
        await AssertAcceptedAsync(await PostAsync("/v1/snapshots", new { name = "quota-21", replicationGroupId = "quota" }));
    }

    [Fact]
    public async Task A_copy_gets_every_file_of_its_source_with_the_same_hashes()
    {
        await AssertAcceptedAsync(await PostAsync("/v1/replication-groups", new { id = "cpsrc", clusterMode = "enabled", numShards = 3 }));
        var files = await SeedAvailableSnapshotAsync("cp-source", "cpsrc", SnapshotSource.Manual, Factory.Clock.GetUtcNow(), "0001", "0002", "0003");

        var accepted = await AssertAcceptedAsync(await PostAsync("/v1/snapshots/cp-source/copy", new { targetName = "cp-target" }));
        Assert.Equal("copying", (string?)accepted["status"]);
        await Housekeeping.RunAsync(CancellationToken.None);

        var copy = await BodyAsync(await Client.GetAsync("/v1/snapshots/cp-target"));
        Assert.Equal("available", (string?)copy["status"]);
        Assert.Equal("manual", (string?)copy["source"]);
        var copied = copy["files"]!.AsArray().Select(f => ((string)f!["shardId"]!, (string)f["slots"]!, (long)f["sizeBytes"]!, (string)f["sha256"]!)).ToList();
        Assert.Equal(files.Select(f => (f.ShardId, f.Slots, f.SizeBytes, f.Sha256)), copied);
        foreach (var file in files)
            Assert.Equal(file.Sha256, await Store.HashAsync(SnapshotKeys.File("cp-target", file.ShardId), CancellationToken.None));
        Assert.Contains("Snapshot cp-target copied from cp-source", await EventsAsync("cp-target"));
    }

    [Fact]
    public async Task A_copy_of_a_snapshot_whose_files_are_missing_fails()
    {
        await SeedAvailableSnapshotAsync("lost-source", "lost", SnapshotSource.Manual, Factory.Clock.GetUtcNow(), "0001");
        await Store.DeleteAsync(SnapshotKeys.File("lost-source", "0001"), CancellationToken.None);
        await AssertAcceptedAsync(await PostAsync("/v1/snapshots/lost-source/copy", new { targetName = "lost-copy" }));
        await Housekeeping.RunAsync(CancellationToken.None);

        var copy = await BodyAsync(await Client.GetAsync("/v1/snapshots/lost-copy"));
        Assert.Equal("failed", (string?)copy["status"]);
        Assert.Empty(copy["files"]!.AsArray());
        Assert.False(await Store.ExistsAsync(SnapshotKeys.File("lost-copy", "0001"), CancellationToken.None));
        Assert.Contains(await EventsAsync("lost-copy"), m => m.StartsWith("Snapshot copy failed for snapshot lost-copy from lost-source", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Deleting_a_snapshot_removes_its_files_and_records()
    {
        await SeedAvailableSnapshotAsync("doomed", "somegroup", SnapshotSource.Manual, Factory.Clock.GetUtcNow(), "0001", "0002");
        var body = await AssertAcceptedAsync(await Client.DeleteAsync("/v1/snapshots/doomed"));
        Assert.Equal("deleting", (string?)body["status"]);
        Assert.True(await Store.ExistsAsync(SnapshotKeys.File("doomed", "0001"), CancellationToken.None));

        await Housekeeping.RunAsync(CancellationToken.None);

        await AssertProblemAsync(await Client.GetAsync("/v1/snapshots/doomed"), HttpStatusCode.NotFound, ErrorCodes.SnapshotNotFound);
        Assert.Equal(0, await CountAsync(db => db.SnapshotFiles.Where(f => f.SnapshotName == "doomed")));
        Assert.False(await Store.ExistsAsync(SnapshotKeys.File("doomed", "0001"), CancellationToken.None));
        Assert.False(await Store.ExistsAsync(SnapshotKeys.File("doomed", "0002"), CancellationToken.None));
        Assert.False(Directory.Exists(Path.Combine(Factory.SnapshotDir, "doomed")));
        Assert.Contains("Snapshot doomed deleted", await EventsAsync("doomed"));
    }

    [Fact]
    public async Task An_automated_snapshot_is_taken_inside_the_window_once_a_day()
    {
        await AssertAcceptedAsync(await PostAsync("/v1/replication-groups", new { id = "auto", snapshotRetentionLimit = 3, snapshotWindow = "03:00-04:00" }));
        await MarkAvailableAsync("auto");
        var day = Factory.Clock.GetUtcNow().UtcDateTime.Date.AddDays(2);

        Factory.Clock.SetUtcNow(new DateTimeOffset(day.AddHours(2).AddMinutes(30), TimeSpan.Zero));
        await Housekeeping.RunAsync(CancellationToken.None);
        Assert.Equal(0, await CountAsync(db => db.Snapshots.Where(s => s.ReplicationGroupId == "auto")));

        Factory.Clock.SetUtcNow(new DateTimeOffset(day.AddHours(3).AddMinutes(10), TimeSpan.Zero));
        await Housekeeping.RunAsync(CancellationToken.None);
        var name = $"automatic.auto-{day:yyyy-MM-dd}-03-10";
        var snapshot = await BodyAsync(await Client.GetAsync($"/v1/snapshots/{name}"));
        Assert.Equal("creating", (string?)snapshot["status"]);
        Assert.Equal("automated", (string?)snapshot["source"]);
        Assert.Equal("snapshotting", (string?)(await BodyAsync(await Client.GetAsync("/v1/replication-groups/auto")))["status"]);
        Assert.Contains($"Automatic snapshot {name} of replication group auto started", await EventsAsync(name));

        // The reconciler took it; later in the same window nothing more happens.
        await SetSnapshotStatusAsync(name, SnapshotStatus.Available);
        await MarkAvailableAsync("auto");
        Factory.Clock.SetUtcNow(new DateTimeOffset(day.AddHours(3).AddMinutes(50), TimeSpan.Zero));
        await Housekeeping.RunAsync(CancellationToken.None);
        Assert.Equal(1, await CountAsync(db => db.Snapshots.Where(s => s.ReplicationGroupId == "auto")));

        // Outside the window the next day: nothing; inside it: the next one, even less than 24 hours later.
        Factory.Clock.SetUtcNow(new DateTimeOffset(day.AddDays(1).AddHours(1), TimeSpan.Zero));
        await Housekeeping.RunAsync(CancellationToken.None);
        Assert.Equal(1, await CountAsync(db => db.Snapshots.Where(s => s.ReplicationGroupId == "auto")));
        Factory.Clock.SetUtcNow(new DateTimeOffset(day.AddDays(1).AddHours(3).AddMinutes(5), TimeSpan.Zero));
        await Housekeeping.RunAsync(CancellationToken.None);
        Assert.Equal(2, await CountAsync(db => db.Snapshots.Where(s => s.ReplicationGroupId == "auto" && s.Source == SnapshotSource.Automated)));
    }

    [Fact]
    public async Task No_automated_snapshot_without_a_retention_limit_or_while_the_group_is_busy()
    {
        await AssertAcceptedAsync(await PostAsync("/v1/replication-groups", new { id = "noauto" }));
        await MarkAvailableAsync("noauto");
        await AssertAcceptedAsync(await PostAsync("/v1/replication-groups", new { id = "busy", snapshotRetentionLimit = 1 }));
        await Housekeeping.RunAsync(CancellationToken.None);
        Assert.Equal(0, await CountAsync(db => db.Snapshots));
        // No window: any time will do.
        await MarkAvailableAsync("busy");
        await Housekeeping.RunAsync(CancellationToken.None);
        Assert.Equal(1, await CountAsync(db => db.Snapshots.Where(s => s.ReplicationGroupId == "busy" && s.Source == SnapshotSource.Automated)));
    }

    [Fact]
    public async Task Retention_removes_old_automated_snapshots_and_their_files_but_keeps_manual_ones()
    {
        await AssertAcceptedAsync(await PostAsync("/v1/replication-groups", new { id = "keep", snapshotRetentionLimit = 2 }));
        var start = Factory.Clock.GetUtcNow();
        await SeedAvailableSnapshotAsync("automatic.keep-old", "keep", SnapshotSource.Automated, start, "0001");
        await SeedAvailableSnapshotAsync("keep-manual", "keep", SnapshotSource.Manual, start, "0001");
        await SeedAvailableSnapshotAsync("automatic.gone-old", "gone", SnapshotSource.Automated, start, "0001");
        Factory.Clock.Advance(TimeSpan.FromDays(1));
        await SeedAvailableSnapshotAsync("automatic.keep-new", "keep", SnapshotSource.Automated, Factory.Clock.GetUtcNow(), "0001");

        // A group's automated snapshots go with it; the others wait for the retention limit.
        await Housekeeping.RunAsync(CancellationToken.None);
        Assert.Equal(new[] { "automatic.keep-new", "automatic.keep-old", "keep-manual" }, await NamesAsync());
        Assert.False(await Store.ExistsAsync(SnapshotKeys.File("automatic.gone-old", "0001"), CancellationToken.None));

        Factory.Clock.Advance(TimeSpan.FromDays(1) + TimeSpan.FromMinutes(1));
        await Housekeeping.RunAsync(CancellationToken.None);
        Assert.Equal(new[] { "automatic.keep-new", "keep-manual" }, await NamesAsync());
        Assert.False(await Store.ExistsAsync(SnapshotKeys.File("automatic.keep-old", "0001"), CancellationToken.None));
        Assert.True(await Store.ExistsAsync(SnapshotKeys.File("keep-manual", "0001"), CancellationToken.None));
        Assert.Contains("Automatic snapshot automatic.keep-old expired: it is older than the retention limit of 2 days", await EventsAsync("automatic.keep-old"));

        Factory.Clock.Advance(TimeSpan.FromDays(30));
        await Housekeeping.RunAsync(CancellationToken.None);
        Assert.Equal(new[] { "keep-manual" }, await NamesAsync());
        Assert.True(await Store.ExistsAsync(SnapshotKeys.File("keep-manual", "0001"), CancellationToken.None));
    }

    [Fact]
    public async Task A_group_can_be_restored_from_an_automated_snapshot()
    {
        var name = SnapshotHousekeeping.AutomaticName("a-fairly-long-group-name-of-forty-chars", Factory.Clock.GetUtcNow());
        await SeedAvailableSnapshotAsync(name, "a-fairly-long-group-name-of-forty-chars", SnapshotSource.Automated, Factory.Clock.GetUtcNow(), "0001");
        await AssertAcceptedAsync(await PostAsync("/v1/replication-groups", new { id = "from-auto", restoreFromSnapshot = name }));
        await AssertProblemAsync(await PostAsync("/v1/replication-groups", new { id = "from-bad", restoreFromSnapshot = "automatic.Bad_" }),
            HttpStatusCode.BadRequest, ErrorCodes.InvalidParameterValue, "restoreFromSnapshot");
    }

    [Fact]
    public async Task Memcached_has_no_snapshots()
    {
        await AssertAcceptedAsync(await PostAsync("/v1/cache-clusters", new { id = "memsnap", engine = "memcached" }));
        await MarkClusterAvailableAsync("memsnap");
        await AssertProblemAsync(await PostAsync("/v1/snapshots", new { name = "mem-snap", replicationGroupId = "memsnap" }),
            HttpStatusCode.BadRequest, ErrorCodes.SnapshotFeatureNotSupported);
        Assert.Equal(0, await CountAsync(db => db.Snapshots));
    }

    /// <summary>Writes fake .rdb files into the store and an available record with their sizes and hashes, as the reconciler would.</summary>
    private async Task<List<SnapshotFileEntity>> SeedAvailableSnapshotAsync(string name, string groupId, SnapshotSource source, DateTimeOffset createdAt, params string[] shardIds)
    {
        var files = new List<SnapshotFileEntity>();
        var slotsEach = 16384 / shardIds.Length;
        for (var i = 0; i < shardIds.Length; i++)
        {
            var content = new MemoryStream(Encoding.UTF8.GetBytes($"REDIS0011 fake rdb of {name} shard {shardIds[i]} " + new string('x', 100 * (i + 1))));
            var stored = await Store.PutAsync(SnapshotKeys.File(name, shardIds[i]), content, CancellationToken.None);
            var last = i == shardIds.Length - 1 ? 16383 : (i + 1) * slotsEach - 1;
            files.Add(new SnapshotFileEntity { SnapshotName = name, ShardId = shardIds[i], Slots = $"{i * slotsEach}-{last}", SizeBytes = stored.SizeBytes, Sha256 = stored.Sha256 });
        }
        await using var db = Factory.NewDbContext();
        db.Snapshots.Add(new SnapshotEntity
        {
            Name = name, ReplicationGroupId = groupId, Status = SnapshotStatus.Available, Source = source,
            ClusterMode = shardIds.Length > 1 ? ClusterMode.Enabled : ClusterMode.Disabled, EngineVersion = "7.0", NodeType = "cache.small",
            NumShards = shardIds.Length, CreatedAt = createdAt,
            Files = files.Select(f => new SnapshotFileEntity { SnapshotName = f.SnapshotName, ShardId = f.ShardId, Slots = f.Slots, SizeBytes = f.SizeBytes, Sha256 = f.Sha256 }).ToList(),
        });
        await db.SaveChangesAsync();
        return files;
    }

    private async Task SetSnapshotStatusAsync(string name, SnapshotStatus status)
    {
        await using var db = Factory.NewDbContext();
        await db.Snapshots.Where(s => s.Name == name).ExecuteUpdateAsync(s => s.SetProperty(x => x.Status, status));
    }

    private async Task<List<string>> NamesAsync()
    {
        await using var db = Factory.NewDbContext();
        return await db.Snapshots.OrderBy(s => s.Name).Select(s => s.Name).ToListAsync();
    }

    private async Task<List<string>> EventsAsync(string snapshotName)
    {
        await using var db = Factory.NewDbContext();
        return await db.Events.Where(e => e.SourceType == SourceType.Snapshot && e.SourceId == snapshotName).Select(e => e.Message).ToListAsync();
    }
}

public sealed class SnapshotWindowTests
{
    [Theory]
    [InlineData(null, "2030-01-01T12:00:00Z", "2029-12-31T12:00:00Z")]
    [InlineData("03:00-04:00", "2030-01-01T02:59:59Z", null)]
    [InlineData("03:00-04:00", "2030-01-01T03:00:00Z", "2030-01-01T03:00:00Z")]
    [InlineData("03:00-04:00", "2030-01-01T03:59:59Z", "2030-01-01T03:00:00Z")]
    [InlineData("03:00-04:00", "2030-01-01T04:00:00Z", null)]
    [InlineData("23:30-00:30", "2030-01-01T23:45:00Z", "2030-01-01T23:30:00Z")]
    [InlineData("23:30-00:30", "2030-01-02T00:10:00Z", "2030-01-01T23:30:00Z")]
    [InlineData("23:30-00:30", "2030-01-02T00:30:00Z", null)]
    [InlineData("23:30-00:30", "2030-01-01T12:00:00Z", null)]
    public void The_window_that_holds_now_and_when_it_opened(string? window, string now, string? opened) =>
        Assert.Equal(opened is null ? null : DateTimeOffset.Parse(opened, System.Globalization.CultureInfo.InvariantCulture),
            SnapshotHousekeeping.WindowOpenedAt(window, DateTimeOffset.Parse(now, System.Globalization.CultureInfo.InvariantCulture)));

    [Fact]
    public void Automatic_snapshots_are_named_as_ElastiCache_names_them() =>
        Assert.Equal("automatic.orders-2030-01-02-03-04", SnapshotHousekeeping.AutomaticName("orders", new DateTimeOffset(2030, 1, 2, 3, 4, 59, TimeSpan.Zero)));
}
