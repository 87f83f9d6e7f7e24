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

/// <summary>Prunes hourly; like the other housekeeping it runs where the reconciler runs.</summary>
public sealed partial class RetentionWorker(Retention retention, TimeProvider time, IOptions<ControlPlaneOptions> options, ILogger<RetentionWorker> logger) : BackgroundService
{
    private static readonly TimeSpan Interval = TimeSpan.FromHours(1);

    protected override async Task ExecuteAsync(CancellationToken ct)
    {
        if (!options.Value.Reconciler.Enabled)
            return;
        while (!ct.IsCancellationRequested)
        {
            try
            {
                var (events, keys, failovers) = await retention.PruneAsync(ct);
                LogPruned(logger, events, keys, failovers);
                await Task.Delay(Interval, time, ct);
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                LogPruneFailed(logger, e);
                await Task.Delay(TimeSpan.FromMinutes(1), time, ct).ContinueWith(_ => { }, TaskScheduler.Default);
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Pruned {Events} event(s), {Keys} idempotency key(s), {Failovers} test failover(s)")]
    private static partial void LogPruned(ILogger logger, int events, int keys, int failovers);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Pruning failed; retrying in a minute")]
    private static partial void LogPruneFailed(ILogger logger, Exception exception);
}
