using ControlPlane.Api.Options;
using ControlPlane.Api.Runtime;
using Microsoft.Extensions.Options;

namespace ControlPlane.Api.Reconciliation;

/// <summary>Docker's event stream of every zone: a container of ours that dies wakes the reconciler at once.</summary>
public sealed partial class ContainerEventWatcher(
    ZoneRegistry zones, ReconcileSignal signal, ContainerDeaths deaths, TimeProvider time, IOptions<ControlPlaneOptions> options, ILogger<ContainerEventWatcher> logger) : BackgroundService
{
    protected override Task ExecuteAsync(CancellationToken ct) =>
        options.Value.Reconciler.Enabled ? Task.WhenAll(zones.All.Select(zone => WatchAsync(zone, ct))) : Task.CompletedTask;

    private async Task WatchAsync(Zone zone, CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            try
            {
                await foreach (var change in zone.Runtime.EventsAsync(ct))
                {
                    LogEvent(logger, zone.Name, change.Action, change.Labels.GetValueOrDefault(Runtime.Labels.Node) ?? change.ContainerId);
                    if (change.Action == "die")
                        deaths.Died(change.ContainerId);
                    else if (change.Action == "start")
                        deaths.Started(change.ContainerId);
                    signal.Wake();
                }
            }
            catch (Exception e) when (!ct.IsCancellationRequested)
            {
                LogStreamFailed(logger, zone.Name, e.Message);
            }
            // The engine went away or closed the stream: the periodic pass covers the gap.
            await Task.Delay(TimeSpan.FromSeconds(1), time, ct);
        }
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Zone {Zone}: {Action} of {Node}")]
    private static partial void LogEvent(ILogger logger, string zone, string action, string node);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Event stream of zone {Zone} failed: {Reason}")]
    private static partial void LogStreamFailed(ILogger logger, string zone, string reason);
}
