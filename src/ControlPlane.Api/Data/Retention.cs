using ControlPlane.Api.Options;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace ControlPlane.Api.Data;

/// <summary>
/// Forgets what has outlived its window, so these tables do not grow without end: events after
/// EventRetention (14 days), idempotency keys after IdempotencyKeyLifetime (24 hours), and test
/// failovers carried out more than the budget's rolling 24 hours ago.
/// </summary>
public sealed class Retention(IServiceScopeFactory scopes, TimeProvider time, IOptions<ControlPlaneOptions> options)
{
    /// <summary>The test-failover budget counts the last 24 hours (Limits.TestFailoverShardsPerDay).</summary>
    private static readonly TimeSpan TestFailoverWindow = TimeSpan.FromHours(24);

    public async Task<(int Events, int IdempotencyKeys, int TestFailovers)> PruneAsync(CancellationToken ct)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<ControlPlaneDbContext>();
        var now = time.GetUtcNow();
        var eventsBefore = now - options.Value.EventRetention;
        var keysBefore = now - options.Value.IdempotencyKeyLifetime;
        var failoversBefore = now - TestFailoverWindow;
        return (
            await db.Events.Where(e => e.Time < eventsBefore).ExecuteDeleteAsync(ct),
            await db.IdempotencyRecords.Where(k => k.CreatedAt <= keysBefore).ExecuteDeleteAsync(ct),
            // One not carried out yet is still work for the reconciler.
            await db.TestFailovers.Where(f => f.RequestedAt <= failoversBefore && f.CompletedAt != null).ExecuteDeleteAsync(ct));
    }
}

/// <summary>Prunes hourly (a minute after a failed round); like the other housekeeping it runs where the reconciler runs.</summary>
public sealed partial class RetentionWorker(Retention retention, TimeProvider time, IOptions<ControlPlaneOptions> options, ILogger<RetentionWorker> logger)
    : PeriodicWorker(time, options, logger)
{
    protected override TimeSpan Interval => TimeSpan.FromHours(1);

    protected override TimeSpan RetryAfterFailure => TimeSpan.FromMinutes(1);

    protected override async Task RoundAsync(CancellationToken ct)
    {
        var (events, keys, failovers) = await retention.PruneAsync(ct);
        LogPruned(logger, events, keys, failovers);
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Pruned {Events} event(s), {Keys} idempotency key(s), {Failovers} test failover(s)")]
    private static partial void LogPruned(ILogger logger, int events, int keys, int failovers);
}
