using ControlPlane.Api.Data;
using Microsoft.EntityFrameworkCore;

namespace ControlPlane.Api.Security.Tls;

/// <summary>
/// Tells <see cref="NodeTransport"/> what every node's port speaks, from the database, every few
/// seconds: a control plane that does not converge a group (another one holds it, or its reconciler
/// is off) still reads its nodes' metrics and slow log over the right transport. The converging
/// one also sets each of its nodes at every pass and when it moves one online.
/// </summary>
public sealed partial class NodeTransportRefresh(
    IServiceScopeFactory scopes, NodeTransport transport, CertificateAuthority authority, TimeProvider time, ILogger<NodeTransportRefresh> logger)
    : BackgroundService
{
    private static readonly TimeSpan Interval = TimeSpan.FromSeconds(5);

    protected override async Task ExecuteAsync(CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            try
            {
                await RefreshAsync(ct);
            }
            catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
            {
                LogFailed(logger, e.Message);
            }
            try
            {
                await Task.Delay(Interval, time, ct);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    public async Task RefreshAsync(CancellationToken ct)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<ControlPlaneDbContext>();
        var redis = await db.RedisNodes.AsNoTracking().Where(n => n.Host != null && n.Port != null)
            .Select(n => new { n.Host, n.Port, Tls = n.TransitEncryptionMode != null }).ToListAsync(ct);
        var memcached = await db.CacheNodes.AsNoTracking().Where(n => n.Host != null && n.Port != null)
            .Join(db.CacheClusters, n => n.CacheClusterId, c => c.Id, (n, c) => new { n.Host, n.Port, Tls = c.TransitEncryption }).ToListAsync(ct);
        // Node certificates are checked against the authority: loaded before a port is said to speak TLS.
        if (redis.Concat(memcached).Any(n => n.Tls))
            await authority.LoadAsync(ct);
        foreach (var node in redis.Concat(memcached))
            transport.Set(node.Host!, node.Port!.Value, node.Tls);
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Reading which node ports speak TLS failed: {Reason}")]
    private static partial void LogFailed(ILogger logger, string reason);
}
