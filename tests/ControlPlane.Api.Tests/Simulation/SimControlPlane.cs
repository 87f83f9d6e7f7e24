using System.Data.Common;
using ControlPlane.Api.Data;
using ControlPlane.Api.Reconciliation;
using ControlPlane.Api.Tests.Infrastructure;
using ControlPlane.Api.World.InMemory;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace ControlPlane.Api.Tests.Simulation;

/// <summary>
/// One life of the control plane in a simulation: the real host (API, reconciler, planner,
/// handlers) on the simulation's database, world and clock, with no background service at all:
/// the driver runs its passes. Killing it is disposing it; the next life starts from the database
/// and the world alone, as a restarted process would.
/// </summary>
public sealed class SimControlPlane(SimDatabase database, MemoryWorld world, SimClock clock, FailingCommands failing, int portStart)
    : WebApplicationFactory<Program>
{
    public const string Instance = "sim";

    /// <summary>Cancelled when this life is killed: what it was doing stops where it is.</summary>
    public CancellationTokenSource Life { get; } = new();

    public Reconciler Reconciler => Services.GetRequiredService<Reconciler>();

    public ReconcileSignal Signal => Services.GetRequiredService<ReconcileSignal>();

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseEnvironment("Testing");
        builder.UseSetting("ConnectionStrings:ControlPlane", database.Setting);
        builder.UseSetting("ControlPlane:AdminKey", TestKeys.Admin);
        builder.UseSetting("ControlPlane:World", "memory");
        builder.UseSetting("ControlPlane:Reconciler:Enabled", "false");
        builder.UseSetting("ControlPlane:Reconciler:Instance", Instance);
        builder.UseSetting("ControlPlane:Reconciler:PortRangeStart", $"{portStart}");
        builder.UseSetting("ControlPlane:Reconciler:PortRangeEnd", $"{portStart + 199}");
        builder.UseSetting("ControlPlane:Reconciler:WarmPoolSize", "0");
        builder.UseSetting("ControlPlane:Reconciler:ZoneGrace", "00:00:05");
        builder.UseSetting("ControlPlane:Reconciler:CreateTimeout", "00:02:00");
        // The seeds were written when full passes came every 5 s (the default is 10 s now, cheaper when
        // idle): kept, so that every seed, the ones that once found a bug too, replays the same run.
        builder.UseSetting("ControlPlane:Reconciler:QuietPassInterval", "00:00:05");
        builder.UseSetting("ControlPlane:Metrics:CollectorEnabled", "false");
        builder.UseSetting("ControlPlane:SnapshotDir", Path.Combine(Path.GetTempPath(), "cp-sim-snapshots"));
        string[] zones = ["az-a", "az-b", "az-c"];
        for (var i = 0; i < zones.Length; i++)
        {
            builder.UseSetting($"ControlPlane:AvailabilityZones:{i}:Name", zones[i]);
            builder.UseSetting($"ControlPlane:AvailabilityZones:{i}:DockerEndpoint", "unix:///nonexistent/docker.sock");
            builder.UseSetting($"ControlPlane:AvailabilityZones:{i}:Host", "127.0.0.1");
        }
        // Quiet, unless CONTROLPLANE_TEST_LOG names a file for the control plane's own log (replaying one seed).
        builder.ConfigureLogging(l =>
        {
            l.ClearProviders();
            if (Environment.GetEnvironmentVariable("CONTROLPLANE_TEST_LOG") is { Length: > 0 } logFile)
                l.AddProvider(new FileLog(logFile)).AddFilter<FileLog>(null, LogLevel.Debug);
        });
        builder.ConfigureServices(services =>
        {
            services.RemoveAll<IHostedService>();
            services.AddSingleton<TimeProvider>(clock);
            services.AddSingleton(world);
            database.Configure(services, failing);
        });
    }

    protected override void ConfigureClient(HttpClient client)
    {
        base.ConfigureClient(client);
        client.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", TestKeys.Admin);
    }
}

/// <summary>
/// Fails the n-th EF command of the control plane from the moment it is armed, as a connection
/// that breaks would (NpgsqlException). The commands Npgsql runs by hand (the group lock, port
/// leases) do not go through EF and are not counted. One instance for every seed (EF keys its
/// internal services by the options, interceptors included); the countdown is the running seed's,
/// carried by its async flow, so seeds run side by side each with their own.
/// </summary>
public sealed class FailingCommands : DbCommandInterceptor
{
    private sealed class Countdown
    {
        public int Left;
        public long Executed;
    }

    private readonly AsyncLocal<Countdown?> _countdown = new();

    public static FailingCommands Shared { get; } = new();

    /// <summary>Starts this flow's own countdown, disarmed: call it at the start of a seed, in the seed's flow.</summary>
    public void Begin() => _countdown.Value = new Countdown();

    /// <summary>Fails the <paramref name="n"/>-th command from now (1: the next one); 0 disarms.</summary>
    public void Arm(int n)
    {
        if (_countdown.Value is { } countdown)
            Volatile.Write(ref countdown.Left, n);
    }

    /// <summary>EF commands this flow's control plane ran since <see cref="Begin"/>.</summary>
    public long Executed => _countdown.Value?.Executed ?? 0;

    private void Count(DbCommand command)
    {
        if (_countdown.Value is not { } countdown)
            return;
        countdown.Executed++;
        if (Volatile.Read(ref countdown.Left) > 0 && Interlocked.Decrement(ref countdown.Left) == 0)
            throw new NpgsqlException($"Simulated: the connection to the database broke before: {command.CommandText.Split('\n')[0]}");
    }

    public override ValueTask<InterceptionResult<DbDataReader>> ReaderExecutingAsync(DbCommand command, CommandEventData eventData, InterceptionResult<DbDataReader> result, CancellationToken ct = default)
    {
        Count(command);
        return ValueTask.FromResult(result);
    }

    public override ValueTask<InterceptionResult<int>> NonQueryExecutingAsync(DbCommand command, CommandEventData eventData, InterceptionResult<int> result, CancellationToken ct = default)
    {
        Count(command);
        return ValueTask.FromResult(result);
    }

    public override ValueTask<InterceptionResult<object>> ScalarExecutingAsync(DbCommand command, CommandEventData eventData, InterceptionResult<object> result, CancellationToken ct = default)
    {
        Count(command);
        return ValueTask.FromResult(result);
    }

    public override InterceptionResult<DbDataReader> ReaderExecuting(DbCommand command, CommandEventData eventData, InterceptionResult<DbDataReader> result)
    {
        Count(command);
        return result;
    }

    public override InterceptionResult<int> NonQueryExecuting(DbCommand command, CommandEventData eventData, InterceptionResult<int> result)
    {
        Count(command);
        return result;
    }
}
