using ControlPlane.Api.Data;
using ControlPlane.Api.Endpoints;
using ControlPlane.Domain;
using ControlPlane.Domain.Planning;
using Microsoft.EntityFrameworkCore;

namespace ControlPlane.Api.Maintenance;

/// <summary>
/// Memcached clusters' maintenance windows: a node type change that waited starts when the window
/// opens (the nodes are replaced as the PATCH would have), outdated nodes scheduled for a refresh and
/// nodes pending-reboot (every Memcached parameter is a start-up option) are rebooted in it.
/// </summary>
public sealed partial class MaintenanceScheduler
{
    public async Task RunClustersAsync(CancellationToken ct)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<ControlPlaneDbContext>();
        var zones = scope.ServiceProvider.GetRequiredService<Catalog>().AvailabilityZones;
        var now = time.GetUtcNow();
        var due = await db.CacheClusters.Where(c => c.ScheduledAt != null && c.ScheduledAt <= now && c.Status == CacheClusterStatus.Available)
            .Select(c => c.Id).ToListAsync(ct);
        foreach (var id in due)
        {
            db.ChangeTracker.Clear();
            var cluster = await db.CacheClusters.Include(c => c.Nodes).FirstOrDefaultAsync(c => c.Id == id && c.Status == CacheClusterStatus.Available, ct);
            if (cluster?.ScheduledChanges is not { } scheduled)
                continue;
            PendingChanges? changes = null;
            if (scheduled.NodeType is { } type && type != cluster.NodeType)
                changes = CacheClustersApi.ChangeNodes(cluster, cluster.NumNodes, [], type, zones, now, new PendingChanges { NodeType = type });
            else if (scheduled.OutdatedNodes is { } outdated)
            {
                // Nodes replaced or removed meanwhile are not rebooted: they are not there any more.
                var nodes = outdated.Where(n => cluster.Nodes.Any(node => node.Id == n)).ToList();
                if (nodes.Count > 0)
                    changes = new PendingChanges { RebootNodes = nodes };
            }
            (cluster.ScheduledChanges, cluster.ScheduledAt) = (null, null);
            if (changes is not null)
            {
                cluster.Status = CacheClusterStatus.Modifying;
                cluster.PendingChanges = changes;
                cluster.Generation++;
            }
            await StartClusterAsync(db, cluster, $"applying {string.Join(", ", PendingChangesJson.Fields(scheduled))}", ct);
        }
    }

    /// <summary>
    /// Memcached nodes left pending-reboot by a parameter change are rebooted in their cluster's
    /// maintenance window (each comes back empty, as on ElastiCache); a cluster without a window waits
    /// for a reboot asked for.
    /// </summary>
    public async Task RebootPendingClustersAsync(CancellationToken ct)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<ControlPlaneDbContext>();
        var now = time.GetUtcNow();
        var candidates = await db.CacheClusters.Include(c => c.Nodes)
            .Where(c => c.Status == CacheClusterStatus.Available && c.PreferredMaintenanceWindow != null
                && c.Nodes.Any(n => n.ParameterGroupStatus == Domain.Parameters.ParameterStatus.PendingReboot))
            .ToListAsync(ct);
        foreach (var cluster in candidates)
        {
            if (Domain.Planning.MaintenanceWindow.TryParse(cluster.PreferredMaintenanceWindow!, out var window) is not null || !window!.Contains(now))
                continue;
            var nodes = cluster.Nodes.Where(n => n.ParameterGroupStatus == Domain.Parameters.ParameterStatus.PendingReboot).Select(n => n.Id).Order(StringComparer.Ordinal).ToList();
            cluster.Status = CacheClusterStatus.Modifying;
            cluster.PendingChanges = new PendingChanges { RebootNodes = nodes };
            cluster.Generation++;
            await StartClusterAsync(db, cluster, $"rebooting cache nodes {string.Join(", ", nodes)} for their parameters", ct);
        }
    }

    /// <summary>Stores the cluster's change with an event, under its xmin: a cluster changed meanwhile waits for the next round.</summary>
    private async Task StartClusterAsync(ControlPlaneDbContext db, CacheClusterEntity cluster, string what, CancellationToken ct)
    {
        cluster.UpdatedAt = time.GetUtcNow();
        db.Record(time, SourceType.CacheCluster, cluster.Id, $"Maintenance window of cache cluster {cluster.Id} open: {what}");
        await SaveOrRetryLaterAsync(db, cluster.Id, ct);
    }
}
