using System.Text.Json;
using ControlPlane.Api.Data;
using ControlPlane.Domain;
using ControlPlane.Domain.Planning;

namespace ControlPlane.Api.Reconciliation;

public sealed partial class Converger
{
    /// <summary>
    /// Memcached nodes started by an older control plane (another command line) are rebooted into the
    /// current one, each coming back empty: inside the cluster's maintenance window (or at once without
    /// one); outside it the refresh is scheduled for the window, once, and the nodes keep serving as they
    /// are. True when the cluster turned modifying.
    /// </summary>
    private async Task<bool> RefreshClusterAsync(ControlPlaneDbContext db, CacheClusterEntity cluster, IReadOnlyDictionary<string, ObservedNode> observed, CancellationToken ct)
    {
        var outdated = cluster.Nodes.Where(n => n.Status == NodeStatus.Available && observed.GetValueOrDefault(n.Id)?.Container == ContainerState.Outdated)
            .Select(n => n.Id).Order(StringComparer.Ordinal).ToList();
        if (outdated.Count == 0)
            return false;
        if (Waits(cluster.PreferredMaintenanceWindow) is { } waitsUntil)
        {
            if (cluster.ScheduledChanges is null)
            {
                cluster.ScheduledChanges = JsonSerializer.Serialize(new Dictionary<string, object> { [Maintenance.MaintenanceScheduler.OutdatedNodes] = outdated });
                cluster.ScheduledAt = waitsUntil;
                db.Record(time, SourceType.CacheCluster, cluster.Id,
                    $"Cache nodes {string.Join(", ", outdated)} run an outdated configuration; rebooting them waits for the maintenance window at {waitsUntil:yyyy-MM-dd HH:mm} UTC");
                await db.SaveChangesAsync(ct);
            }
            return false;
        }
        cluster.Status = CacheClusterStatus.Modifying;
        cluster.PendingChanges = JsonSerializer.Serialize(new Dictionary<string, object> { [RebootChange] = outdated });
        (cluster.ScheduledChanges, cluster.ScheduledAt) = (null, null);
        db.Record(time, SourceType.CacheCluster, cluster.Id, $"Rebooting cache nodes {string.Join(", ", outdated)}: they run an outdated configuration");
        await db.SaveChangesAsync(ct);
        return true;
    }

    /// <summary>When a node-restarting change may start, if not now (the maintenance window is closed).</summary>
    private DateTimeOffset? Waits(string? windowText)
    {
        if (windowText is null || MaintenanceWindow.TryParse(windowText, out var window) is not null)
            return null;
        var now = time.GetUtcNow();
        var at = MaintenancePlanner.WhenToApply(window, now, applyImmediately: false);
        return at > now ? at : null;
    }
}
