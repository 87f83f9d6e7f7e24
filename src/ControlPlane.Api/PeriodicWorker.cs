using ControlPlane.Api.Options;
using Microsoft.Extensions.Options;

namespace ControlPlane.Api;

/// <summary>
/// A loop beside the reconciler, where the reconciler runs (off with it): one round every
/// <see cref="Interval"/>; a round that fails is logged and the next one comes after
/// <see cref="RetryAfterFailure"/>. Snapshot housekeeping, maintenance windows and retention are
/// such loops.
/// </summary>
public abstract partial class PeriodicWorker(TimeProvider time, IOptions<ControlPlaneOptions> options, ILogger logger) : BackgroundService
{
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
                await Task.Delay(delay, time, ct);
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
