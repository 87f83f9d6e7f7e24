using ControlPlane.Api.Data;
using ControlPlane.Api.Http;
using ControlPlane.Domain;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;

namespace ControlPlane.Api.Endpoints;

/// <summary>
/// The control-plane-wide node quota (ElastiCache's NodeQuotaForCustomerExceeded), besides the one
/// per group: the desired nodes of every group and cluster together. Writes that add nodes take one
/// advisory lock in their transaction before counting, so two of them cannot both squeeze in.
/// </summary>
public static class TotalNodeQuota
{
    /// <summary>Apart from the idempotency keys' and the reconciler's locks.</summary>
    private const int LockSpace = 0x0DE5;

    /// <summary>Null when <paramref name="adding"/> more nodes fit; otherwise the 400 for <paramref name="field"/>.</summary>
    public static async Task<ProblemHttpResult?> CheckAsync(ControlPlaneDbContext db, int quota, int adding, string field, CancellationToken ct)
    {
        if (adding <= 0)
            return null;
        if (db.Database.CurrentTransaction is null)
            await db.Database.BeginTransactionAsync(ct);
        await db.Database.ExecuteSqlAsync($"SELECT pg_advisory_xact_lock({LockSpace}, 0)", ct);
        var used = await db.ReplicationGroups.SumAsync(g => g.NumShards * (g.ReplicasPerShard + 1), ct)
            + await db.CacheClusters.SumAsync(c => c.NumNodes, ct);
        return used + adding <= quota ? null : Problems.Invalid(field,
            $"This control plane runs {used} of its {quota} nodes; {adding} more would be over the quota (ControlPlane:TotalNodeQuota).",
            ErrorCodes.NodeQuotaForCustomerExceeded);
    }
}
