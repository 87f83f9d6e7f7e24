using ControlPlane.Api.Data;
using ControlPlane.Api.Http;
using ControlPlane.Api.Options;
using ControlPlane.Domain;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;

namespace ControlPlane.Api.Endpoints;

/// <summary>
/// The node quotas beyond the one per group (ElastiCache's NodeQuotaForCustomerExceeded): the
/// desired nodes of every group and cluster together (ControlPlane:TotalNodeQuota), and those of
/// one tenant (ControlPlane:TenantNodeQuota). Writes that add nodes take one advisory lock in their
/// transaction before counting, so two of them cannot both squeeze in.
/// </summary>
public static class TotalNodeQuota
{
    /// <summary>Apart from the idempotency keys' and the reconciler's locks.</summary>
    private const int LockSpace = 0x0DE5;

    /// <summary>Null when <paramref name="adding"/> more nodes in <paramref name="tenant"/> fit; otherwise the 400 for <paramref name="field"/>.</summary>
    public static async Task<ProblemHttpResult?> CheckAsync(
        ControlPlaneDbContext db, ControlPlaneOptions options, string tenant, int adding, string field, CancellationToken ct)
    {
        if (adding <= 0)
            return null;
        if (db.Database.CurrentTransaction is null)
            await db.Database.BeginTransactionAsync(ct);
        if (db.Database.IsNpgsql())
            await db.Database.ExecuteSqlAsync($"SELECT pg_advisory_xact_lock({LockSpace}, 0)", ct);
        var used = await db.ReplicationGroups.SumAsync(g => g.NumShards * (g.ReplicasPerShard + 1), ct)
            + await db.CacheClusters.SumAsync(c => c.NumNodes, ct);
        if (used + adding > options.TotalNodeQuota)
            return Problems.Invalid(field,
                $"This control plane runs {used} of its {options.TotalNodeQuota} nodes; {adding} more would be over the quota (ControlPlane:TotalNodeQuota).",
                ErrorCodes.NodeQuotaForCustomerExceeded);
        var tenants = await db.ReplicationGroups.Where(g => g.Tenant == tenant).SumAsync(g => g.NumShards * (g.ReplicasPerShard + 1), ct)
            + await db.CacheClusters.Where(c => c.Tenant == tenant).SumAsync(c => c.NumNodes, ct);
        return tenants + adding <= options.TenantNodeQuota ? null : Problems.Invalid(field,
            $"Tenant {tenant} runs {tenants} of its {options.TenantNodeQuota} nodes; {adding} more would be over its quota (ControlPlane:TenantNodeQuota).",
            ErrorCodes.NodeQuotaForCustomerExceeded);
    }
}
