using System.Text.Json;
using ControlPlane.Api.Data;
using ControlPlane.Api.Options;
using ControlPlane.Domain;
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
            if (group?.ScheduledChanges is not { } json)
                continue;
            var scheduled = JsonSerializer.Deserialize<Dictionary<string, JsonElement>>(json)!;
            string? Text(string field) => scheduled[field].ValueKind == JsonValueKind.String ? scheduled[field].GetString() : null;
            if (scheduled.ContainsKey("nodeType"))
                group.NodeType = Text("nodeType")!;
            if (scheduled.ContainsKey("engine"))
                group.Engine = Text("engine")!;
            if (scheduled.ContainsKey("engineVersion"))
                group.EngineVersion = Text("engineVersion")!;
            if (scheduled.Remove("parameterGroupName", out var parameterGroup))
                group.ParameterGroupName = parameterGroup.ValueKind == JsonValueKind.String ? parameterGroup.GetString() : null;
            (group.ScheduledChanges, group.ScheduledAt) = (null, null);
            await StartAsync(db, group, JsonSerializer.Serialize(scheduled), $"applying {string.Join(", ", scheduled.Keys)}", ct);
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
                && g.Shards.Any(s => s.Nodes.Any(n => n.ParameterGroupStatus == Parameters.ParameterStatus.PendingReboot)))
            .ToListAsync(ct);
        foreach (var group in candidates)
        {
            if (Domain.Planning.MaintenanceWindow.TryParse(group.PreferredMaintenanceWindow!, out var window) is not null || !window!.Contains(now))
                continue;
            var nodes = group.Shards.SelectMany(s => s.Nodes).Where(n => n.ParameterGroupStatus == Parameters.ParameterStatus.PendingReboot)
                .Select(n => n.Id).Order(StringComparer.Ordinal).ToList();
            await StartAsync(db, group, JsonSerializer.Serialize(new Dictionary<string, object> { [Reconciliation.Converger.RebootChange] = nodes }),
                $"rebooting cache nodes {string.Join(", ", nodes)} for their parameters", ct);
        }
    }

    /// <summary>Turns the group modifying with these pending changes, under its xmin: a group changed meanwhile waits for the next round.</summary>
    private async Task StartAsync(ControlPlaneDbContext db, ReplicationGroupEntity group, string pending, string what, CancellationToken ct)
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

/// <summary>Looks for maintenance windows that opened every few seconds, where the reconciler runs.</summary>
public sealed class MaintenanceWorker(MaintenanceScheduler scheduler, TimeProvider time, IOptions<ControlPlaneOptions> options, ILogger<MaintenanceWorker> logger)
    : PeriodicWorker(time, options, logger)
{
    protected override TimeSpan Interval => TimeSpan.FromSeconds(5);

    protected override async Task RoundAsync(CancellationToken ct)
    {
        await scheduler.RunAsync(ct);
        await scheduler.RebootPendingAsync(ct);
        await scheduler.RunClustersAsync(ct);
        await scheduler.RebootPendingClustersAsync(ct);
    }
}
