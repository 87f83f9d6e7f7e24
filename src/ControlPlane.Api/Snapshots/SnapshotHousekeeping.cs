using System.Globalization;
using ControlPlane.Api.Data;
using ControlPlane.Api.Options;
using ControlPlane.Domain;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace ControlPlane.Api.Snapshots;

/// <summary>
/// The snapshot work that needs no engine: copies files for snapshots in <c>copying</c>, removes
/// snapshots in <c>deleting</c>, expires automated snapshots past their group's retention limit and
/// asks for each group's daily automated snapshot (the reconciler takes it, as it takes manual ones).
/// Level-triggered like the reconciler: a round reads what the records say and a missed round is
/// made up by the next. Each snapshot and group is handled on its own, so one failure stops nothing else.
/// </summary>
public sealed partial class SnapshotHousekeeping(
    IServiceScopeFactory scopes, ISnapshotStore store, TimeProvider time, ILogger<SnapshotHousekeeping> logger)
{
    /// <summary>One round. Expiry runs before deletion so an expired snapshot is gone in the same round.</summary>
    public async Task RunAsync(CancellationToken ct)
    {
        await ForEachAsync(db => db.Snapshots.Where(s => s.Status == SnapshotStatus.Copying).Select(s => s.Name), CopyAsync, ct);
        await ExpireAsync(ct);
        await ForEachAsync(db => db.Snapshots.Where(s => s.Status == SnapshotStatus.Deleting).Select(s => s.Name), DeleteAsync, ct);
        await ForEachAsync(db => db.ReplicationGroups.Where(g => g.SnapshotRetentionLimit > 0 && g.Status == GroupStatus.Available).Select(g => g.Id),
            ScheduleAutomaticAsync, ct);
        await using var scope = scopes.CreateAsyncScope();
        var cutoff = time.GetUtcNow().AddDays(-1);
        await scope.ServiceProvider.GetRequiredService<ControlPlaneDbContext>().SnapshotRequests.Where(r => r.RequestedAt <= cutoff).ExecuteDeleteAsync(ct);
    }

    /// <summary>
    /// The name ElastiCache gives an automatic snapshot: automatic.&lt;group&gt;-yyyy-MM-dd-HH-mm, from the
    /// group's stored id, stored in the group's tenant.
    /// </summary>
    public static string AutomaticName(string groupId, DateTimeOffset at) => TenantNames.Internal(TenantNames.TenantOf(groupId),
        $"{Identifiers.AutomaticSnapshotPrefix}{TenantNames.Public(groupId)}-{at.UtcDateTime.ToString("yyyy-MM-dd-HH-mm", CultureInfo.InvariantCulture)}");

    /// <summary>
    /// When the window that holds <paramref name="now"/> opened: null when now is outside the window.
    /// A window "hh:mm-hh:mm" (UTC) may wrap midnight; no window is open all day, from 24 hours ago.
    /// </summary>
    public static DateTimeOffset? WindowOpenedAt(string? window, DateTimeOffset now)
    {
        now = now.ToUniversalTime();
        if (window is null)
            return now.AddDays(-1);
        var start = TimeSpan.ParseExact(window[..5], @"hh\:mm", CultureInfo.InvariantCulture);
        var end = TimeSpan.ParseExact(window[6..], @"hh\:mm", CultureInfo.InvariantCulture);
        var t = now.TimeOfDay;
        var today = new DateTimeOffset(now.Date, TimeSpan.Zero);
        if (start < end)
            return t >= start && t < end ? today + start : null;
        // Wraps midnight: 23:00-01:00 is open from 23:00 today, or until 01:00 having opened yesterday.
        if (t >= start)
            return today + start;
        return t < end ? today.AddDays(-1) + start : null;
    }

    private async Task CopyAsync(ControlPlaneDbContext db, string name, CancellationToken ct)
    {
        var copy = await db.Snapshots.Include(s => s.Files).FirstOrDefaultAsync(s => s.Name == name && s.Status == SnapshotStatus.Copying, ct);
        if (copy is null)
            return;
        var sourceName = copy.CopiedFrom ?? "";
        var source = await db.Snapshots.Include(s => s.Files).AsNoTracking().FirstOrDefaultAsync(s => s.Name == sourceName, ct);
        var written = new List<string>();
        string? failure = null;
        if (source is null || source.Files.Count == 0)
            failure = $"snapshot {sourceName} has no files";
        else
        {
            foreach (var file in source.Files.OrderBy(f => f.ShardId))
            {
                var from = SnapshotKeys.File(source.Name, file.ShardId);
                if (!await store.ExistsAsync(from, ct))
                {
                    failure = $"the file of shard {file.ShardId} of snapshot {source.Name} is missing";
                    break;
                }
                var to = SnapshotKeys.File(copy.Name, file.ShardId);
                written.Add(to);
                var stored = await store.CopyAsync(from, to, ct);
                if (stored.Sha256 != file.Sha256)
                {
                    failure = $"the file of shard {file.ShardId} of snapshot {source.Name} does not match its SHA-256";
                    break;
                }
                copy.Files.Add(new SnapshotFileEntity { SnapshotName = copy.Name, ShardId = file.ShardId, Slots = file.Slots, SizeBytes = stored.SizeBytes, Sha256 = stored.Sha256 });
            }
        }

        if (failure is null)
        {
            copy.Status = SnapshotStatus.Available;
            db.Record(time, SourceType.Snapshot, copy.Name, $"Snapshot {copy.Name} copied from {sourceName}");
        }
        else
        {
            foreach (var key in written)
                await store.DeleteAsync(key, ct);
            copy.Files.Clear();
            copy.Status = SnapshotStatus.Failed;
            db.Record(time, SourceType.Snapshot, copy.Name, $"Snapshot copy failed for snapshot {copy.Name} from {sourceName}: {failure}");
        }
        await db.SaveChangesAsync(ct);
    }

    private async Task ExpireAsync(CancellationToken ct)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<ControlPlaneDbContext>();
        var now = time.GetUtcNow();
        // A group's automated snapshots go with the group (as ElastiCache's do); a limit of 0 stops new
        // ones but keeps those there are: they can be deleted by hand.
        var candidates = await db.Snapshots
            .Where(s => s.Source == SnapshotSource.Automated && (s.Status == SnapshotStatus.Available || s.Status == SnapshotStatus.Failed))
            .Select(s => new
            {
                Snapshot = s,
                Limit = db.ReplicationGroups.Where(g => g.Id == s.ReplicationGroupId).Select(g => (int?)g.SnapshotRetentionLimit).FirstOrDefault(),
            })
            .ToListAsync(ct);
        foreach (var c in candidates)
        {
            string reason;
            if (c.Limit is null)
                reason = $"its replication group {c.Snapshot.ReplicationGroupId} no longer exists";
            else if (c.Limit > 0 && c.Snapshot.CreatedAt < now.AddDays(-c.Limit.Value))
                reason = $"it is older than the retention limit of {c.Limit} days";
            else
                continue;
            c.Snapshot.Status = SnapshotStatus.Deleting;
            db.Record(time, SourceType.Snapshot, c.Snapshot.Name, $"Automatic snapshot {c.Snapshot.Name} expired: {reason}");
        }
        try
        {
            await db.SaveChangesAsync(ct);
        }
        catch (DbUpdateConcurrencyException)
        {
            // Someone else changed one of them (deleted it, most likely); the next round looks again.
        }
    }

    private async Task DeleteAsync(ControlPlaneDbContext db, string name, CancellationToken ct)
    {
        var snapshot = await db.Snapshots.Include(s => s.Files).FirstOrDefaultAsync(s => s.Name == name && s.Status == SnapshotStatus.Deleting, ct);
        if (snapshot is null)
            return;
        // Files first: a record without files can be deleted again; files without a record are lost to us.
        foreach (var file in snapshot.Files)
            await store.DeleteAsync(SnapshotKeys.File(snapshot.Name, file.ShardId), ct);
        db.Snapshots.Remove(snapshot);
        db.Record(time, SourceType.Snapshot, snapshot.Name, $"Snapshot {snapshot.Name} deleted");
        await db.SaveChangesAsync(ct);
    }

    private async Task ScheduleAutomaticAsync(ControlPlaneDbContext db, string groupId, CancellationToken ct)
    {
        var group = await db.ReplicationGroups.FirstOrDefaultAsync(g => g.Id == groupId && g.SnapshotRetentionLimit > 0 && g.Status == GroupStatus.Available, ct);
        if (group is null)
            return;
        var now = time.GetUtcNow();
        // Once a window: none since this window opened (the last 24 hours without a window). A failed
        // one counts too, so a broken group is not snapshotted again every few seconds.
        if (WindowOpenedAt(group.SnapshotWindow, now) is not { } opened
            || await db.Snapshots.AnyAsync(s => s.ReplicationGroupId == group.Id && s.Source == SnapshotSource.Automated && s.CreatedAt > opened, ct))
            return;
        var name = AutomaticName(group.Id, now);
        if (await db.Snapshots.AnyAsync(s => s.Name == name, ct))
            return;
        db.Snapshots.Add(SnapshotEntity.Taking(group, name, SnapshotSource.Automated, now));
        group.Status = GroupStatus.Snapshotting;
        // Asked on the owner's behalf (the snapshot window), as the maintenance scheduler starts scheduled changes: a new generation.
        group.Generation++;
        group.UpdatedAt = now;
        db.Record(time, SourceType.Snapshot, name, $"Automatic snapshot {name} of replication group {group.Id} started");
        try
        {
            await db.SaveChangesAsync(ct);
        }
        // Another control plane's housekeeping asked for the same snapshot first (the same name), or the
        // group changed under ours: not a failure, the snapshot is taken once and the next round looks again.
        catch (Exception e) when (e is DbUpdateConcurrencyException || e is DbUpdateException { InnerException: Npgsql.PostgresException { SqlState: Npgsql.PostgresErrorCodes.UniqueViolation } })
        {
            LogAutomaticRaced(logger, group.Id, name);
        }
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Automatic snapshot {Name} of {GroupId} was asked for by another control plane first")]
    private static partial void LogAutomaticRaced(ILogger logger, string groupId, string name);

    /// <summary>Runs the step for each id in a scope of its own; a failure is logged and left for the next round.</summary>
    private async Task ForEachAsync(
        Func<ControlPlaneDbContext, IQueryable<string>> ids, Func<ControlPlaneDbContext, string, CancellationToken, Task> step, CancellationToken ct)
    {
        List<string> list;
        await using (var scope = scopes.CreateAsyncScope())
            list = await ids(scope.ServiceProvider.GetRequiredService<ControlPlaneDbContext>()).ToListAsync(ct);
        foreach (var id in list)
        {
            try
            {
                await using var scope = scopes.CreateAsyncScope();
                await step(scope.ServiceProvider.GetRequiredService<ControlPlaneDbContext>(), id, ct);
            }
            catch (Exception e) when (!ct.IsCancellationRequested)
            {
                LogStepFailed(logger, id, e);
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Snapshot housekeeping of {Id} failed; the next round retries")]
    private static partial void LogStepFailed(ILogger logger, string id, Exception exception);
}

/// <summary>
/// Runs the snapshot housekeeping where the reconciler runs: within seconds of an API write (a copy or
/// a delete to carry out), and every half minute for the automatic snapshots' windows (minutes wide)
/// and the retention limits.
/// </summary>
public sealed class SnapshotHousekeepingWorker(
    SnapshotHousekeeping housekeeping, DatabaseChanges changes, TimeProvider time, IOptions<ControlPlaneOptions> options, ILogger<SnapshotHousekeepingWorker> logger)
    : PeriodicWorker(time, options, logger, changes)
{
    protected override TimeSpan Interval => TimeSpan.FromSeconds(30);

    protected override Task RoundAsync(CancellationToken ct) => housekeeping.RunAsync(ct);
}
