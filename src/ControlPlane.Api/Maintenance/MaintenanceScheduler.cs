using ControlPlane.Api.Data;
using ControlPlane.Api.Options;
using ControlPlane.Domain;
using ControlPlane.Domain.Planning;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace ControlPlane.Api.Maintenance;

/// <summary>
/// Starts the node-replacing changes that waited for a group's maintenance window once it opens:
/// their fields become the group's, the group turns modifying with them as pending changes, and the
/// reconciler replaces the nodes as for any such change. A group busy with something else waits.
/// </summary>
public sealed partial class MaintenanceScheduler(IServiceScopeFactory scopes, TimeProvider time, ILogger<MaintenanceScheduler> logger)
{
    public async Task RunAsync(CancellationToken ct)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<ControlPlaneDbContext>();
        var now = time.GetUtcNow();
        var due = await db.ReplicationGroups.Where(g => g.ScheduledAt != null && g.ScheduledAt <= now && g.Status == GroupStatus.Available)
            .Select(g => g.Id).ToListAsync(ct);
        foreach (var id in due)
        {
            db.ChangeTracker.Clear();
            var group = await db.ReplicationGroups.FirstOrDefaultAsync(g => g.Id == id && g.Status == GroupStatus.Available, ct);
            if (group?.ScheduledChanges is not { } scheduled)
                continue;
            group.NodeType = scheduled.NodeType ?? group.NodeType;
            group.Engine = scheduled.Engine ?? group.Engine;
            group.EngineVersion = scheduled.EngineVersion ?? group.EngineVersion;
            if (scheduled.ParameterGroupName is { } parameterGroup)
                group.ParameterGroupName = parameterGroup.To;
            (group.ScheduledChanges, group.ScheduledAt) = (null, null);
            // The parameter group is the group's now; the rest is what the reconciler carries out.
            var starting = scheduled with { ParameterGroupName = null };
            await StartAsync(db, group, starting, $"applying {string.Join(", ", PendingChangesJson.Fields(starting))}", ct);
        }
    }

    /// <summary>
    /// Nodes left pending-reboot by a start-up parameter change are rebooted (in place, one shard at a
    /// time) inside their group's maintenance window; a group without a window waits for a reboot asked for.
    /// </summary>
    public async Task RebootPendingAsync(CancellationToken ct)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<ControlPlaneDbContext>();
        var now = time.GetUtcNow();
        var candidates = await db.ReplicationGroups.Include(g => g.Shards).ThenInclude(s => s.Nodes).AsSplitQuery()
            .Where(g => g.Status == GroupStatus.Available && g.PreferredMaintenanceWindow != null
                && g.Shards.Any(s => s.Nodes.Any(n => n.ParameterGroupStatus == Domain.Parameters.ParameterStatus.PendingReboot)))
            .ToListAsync(ct);
        foreach (var group in candidates)
        {
            if (Domain.Planning.MaintenanceWindow.TryParse(group.PreferredMaintenanceWindow!, out var window) is not null || !window!.Contains(now))
                continue;
            var nodes = group.Shards.SelectMany(s => s.Nodes).Where(n => n.ParameterGroupStatus == Domain.Parameters.ParameterStatus.PendingReboot)
                .Select(n => n.Id).Order(StringComparer.Ordinal).ToList();
            await StartAsync(db, group, new PendingChanges { RebootNodes = nodes },
                $"rebooting cache nodes {string.Join(", ", nodes)} for their parameters", ct);
        }
    }

    /// <summary>Turns the group modifying with these pending changes, under its xmin: a group changed meanwhile waits for the next round.</summary>
    private async Task StartAsync(ControlPlaneDbContext db, ReplicationGroupEntity group, PendingChanges pending, string what, CancellationToken ct)
    {
        group.PendingChanges = pending;
        group.Status = GroupStatus.Modifying;
        group.Generation++;
        group.UpdatedAt = time.GetUtcNow();
        db.Record(time, SourceType.ReplicationGroup, group.Id, $"Maintenance window of replication group {group.Id} open: {what}");
        await SaveOrRetryLaterAsync(db, group.Id, ct);
    }

    /// <summary>Saves under the row's xmin; a group or cluster changed meanwhile is left for the next round.</summary>
    private async Task SaveOrRetryLaterAsync(ControlPlaneDbContext db, string id, CancellationToken ct)
    {
        try
        {
            await db.SaveChangesAsync(ct);
        }
        catch (DbUpdateConcurrencyException)
        {
            LogRaced(logger, id);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Scheduled changes of {GroupId} raced another change; retried next round")]
    private static partial void LogRaced(ILogger logger, string groupId);
}

/// <summary>
/// Looks for maintenance windows that opened (they are minutes wide) every half minute, and within
/// seconds of an API write (a change deferred to the window), where the reconciler runs.
/// </summary>
public sealed class MaintenanceWorker(
    MaintenanceScheduler scheduler, DatabaseChanges changes, TimeProvider time, IOptions<ControlPlaneOptions> options, ILogger<MaintenanceWorker> logger)
    : PeriodicWorker(time, options, logger, changes)
{
    protected override TimeSpan Interval => TimeSpan.FromSeconds(30);

    protected override async Task RoundAsync(CancellationToken ct)
    {
        await scheduler.RunAsync(ct);
        await scheduler.RebootPendingAsync(ct);
        await scheduler.RunClustersAsync(ct);
        await scheduler.RebootPendingClustersAsync(ct);
    }
}
