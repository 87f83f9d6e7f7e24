using ControlPlane.Api.Data;
using ControlPlane.Api.Options;
using ControlPlane.Domain;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace ControlPlane.Api.Http;

/// <summary>ControlPlane:TenantNodeQuota: the nodes one tenant may have, Redis and Memcached together.</summary>
public sealed class TenantQuota(IOptions<ControlPlaneOptions> options)
{
    public const string Exceeded = "NodeQuotaForCustomerExceeded";

    /// <summary>400 NodeQuotaForCustomerExceeded when <paramref name="adding"/> more nodes would pass the quota.</summary>
    public async Task<ProblemHttpResult?> CheckAsync(ControlPlaneDbContext db, string tenant, int adding, CancellationToken ct)
    {
        var redis = await db.ReplicationGroups.Where(g => g.Tenant == tenant).SumAsync(g => g.NumShards * (g.ReplicasPerShard + 1), ct);
        var memcached = await db.CacheClusters.Where(c => c.Tenant == tenant).SumAsync(c => c.NumNodes, ct);
        var quota = options.Value.TenantNodeQuota;
        return redis + memcached + adding <= quota ? null : Problems.Create(StatusCodes.Status400BadRequest, Exceeded,
            $"Tenant {tenant} has {redis + memcached} node(s); {adding} more would pass its quota of {quota}.");
    }
}
