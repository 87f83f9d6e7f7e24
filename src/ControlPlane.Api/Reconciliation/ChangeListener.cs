using ControlPlane.Api.Data;
using ControlPlane.Api.Http;
using ControlPlane.Api.Options;
using Microsoft.Extensions.Options;
using Microsoft.EntityFrameworkCore;
using Npgsql;

namespace ControlPlane.Api.Reconciliation;

/// <summary>LISTEN for the API's NOTIFY (from this process or another) and wake the reconciler and the periodic workers.</summary>
public sealed partial class ChangeListener(
    IServiceScopeFactory scopes, ReconcileSignal signal, DatabaseChanges changes, TimeProvider time, IOptions<ControlPlaneOptions> options, ILogger<ChangeListener> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken ct)
    {
        if (!options.Value.Reconciler.Enabled)
            return;
        string connectionString;
        await using (var scope = scopes.CreateAsyncScope())
            connectionString = scope.ServiceProvider.GetRequiredService<ControlPlaneDbContext>().Database.GetConnectionString()!;
        while (!ct.IsCancellationRequested)
        {
            try
            {
                await using var connection = new NpgsqlConnection(connectionString);
                await connection.OpenAsync(ct);
                connection.Notification += (_, _) => Changed();
                await using (var listen = new NpgsqlCommand($"LISTEN {Store.ChangesChannel}", connection))
                    await listen.ExecuteNonQueryAsync(ct);
                Changed(); // whatever changed while we were not listening
                while (!ct.IsCancellationRequested)
                    await connection.WaitAsync(ct);
            }
            catch (Exception e) when (!ct.IsCancellationRequested)
            {
                LogListenFailed(logger, e.Message);
                await Task.Delay(TimeSpan.FromSeconds(1), time, ct);
            }
        }
    }

    private void Changed()
    {
        signal.Wake();
        changes.Changed();
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Listening for changes failed, retrying: {Reason}")]
    private static partial void LogListenFailed(ILogger logger, string reason);
}
