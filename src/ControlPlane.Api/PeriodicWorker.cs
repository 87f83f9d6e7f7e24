using ControlPlane.Api.Data;
using ControlPlane.Api.Options;
using Microsoft.Extensions.Options;

namespace ControlPlane.Api;

/// <summary>
/// A loop beside the reconciler, where the reconciler runs (off with it): one round every
/// <see cref="Interval"/>; a round that fails is logged and the next one comes after
/// <see cref="RetryAfterFailure"/>. Snapshot housekeeping, maintenance windows and retention are
/// such loops. Given <paramref name="changes"/>, an API write starts a round early (at most one each
/// <see cref="WakeGap"/>), so the interval can be long: it only bounds how late a round comes when
/// nothing was written (a window that opened, a write that another process's listener heard).
/// </summary>
public abstract partial class PeriodicWorker(TimeProvider time, IOptions<ControlPlaneOptions> options, ILogger logger, DatabaseChanges? changes = null)
    : BackgroundService
{
    /// <summary>
    /// A burst of API writes costs one round per this, not one per write (every write notifies,
    /// whatever it wrote): busy, a worker runs about as often as it ran always before it listened.
    /// </summary>
    public static readonly TimeSpan WakeGap = TimeSpan.FromSeconds(2);

    protected abstract TimeSpan Interval { get; }

    protected virtual TimeSpan RetryAfterFailure => Interval;

    protected abstract Task RoundAsync(CancellationToken ct);

    protected override async Task ExecuteAsync(CancellationToken ct)
    {
        if (!options.Value.Reconciler.Enabled)
            return;
        while (!ct.IsCancellationRequested)
        {
            var delay = Interval;
            // Read before the round: a write that lands during it gets a round of its own.
            var changed = changes?.Next;
            try
            {
                await RoundAsync(ct);
            }
            catch (Exception e) when (!ct.IsCancellationRequested)
            {
                delay = RetryAfterFailure;
                LogRoundFailed(logger, GetType().Name, delay, e);
            }
            try
            {
                if (changed is null || delay <= WakeGap)
                {
                    await Task.Delay(delay, time, ct);
                }
                else
                {
                    await Task.Delay(WakeGap, time, ct);
                    await changed.WaitAsync(delay - WakeGap, time, ct);
                }
            }
            catch (TimeoutException)
            {
                // The interval passed without a write: the round is due anyway.
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Worker}: the round failed; the next one in {Delay}")]
    private static partial void LogRoundFailed(ILogger logger, string worker, TimeSpan delay, Exception exception);
}
