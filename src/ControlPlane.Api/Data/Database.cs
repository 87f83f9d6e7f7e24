using Microsoft.EntityFrameworkCore;
using Npgsql;

namespace ControlPlane.Api.Data;

public static class Database
{
    public const string DefaultConnectionString = "Host=127.0.0.1;Port=55432;Database=controlplane;Username=controlplane";

    /// <summary>
    /// The DbContext on the "ControlPlane" connection string, with its migrations in their own assembly.
    /// Its options are built once (<see cref="OptionsLifetime"/>), not for every context: the
    /// connection string parsed twice and the options' extensions put together each time were a few
    /// percent of an idle control plane's work, which opens a context for every pass and every round.
    /// </summary>
    public static IServiceCollection AddDatabase(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddSingleton<DatabaseChanges>();
        // Read when the options are first built, not now: a test host adds its settings after this runs.
        return services.AddDbContext<ControlPlaneDbContext>(options =>
            options.UseNpgsql(ConnectionString(configuration), npgsql => npgsql.MigrationsAssembly(ControlPlaneDbContext.MigrationsAssembly)),
            ServiceLifetime.Scoped, OptionsLifetime);
    }

    /// <summary>How long the DbContext's options live; whatever configures them more (the tests' interceptors) registers with it.</summary>
    public const ServiceLifetime OptionsLifetime = ServiceLifetime.Singleton;

    /// <summary>Events, idempotency keys and test failovers are pruned after their windows.</summary>
    public static IServiceCollection AddRetention(this IServiceCollection services)
    {
        services.AddSingleton<Retention>();
        services.AddHostedService<RetentionWorker>();
        return services;
    }

    /// <summary>
    /// The "ControlPlane" connection string, with short timeouts unless it sets its own, so an
    /// unreachable database answers 503 in seconds rather than hanging the request.
    /// </summary>
    public static string ConnectionString(IConfiguration configuration)
    {
        var configured = configuration.GetConnectionString("ControlPlane") ?? DefaultConnectionString;
        // NpgsqlConnectionStringBuilder knows every keyword, so ask a plain builder what was actually written.
        var written = new System.Data.Common.DbConnectionStringBuilder { ConnectionString = configured };
        var csb = new NpgsqlConnectionStringBuilder(configured);
        if (!written.ContainsKey("Timeout"))
            csb.Timeout = 3;
        if (!written.ContainsKey("Command Timeout") && !written.ContainsKey("CommandTimeout"))
            csb.CommandTimeout = 15;
        return csb.ConnectionString;
    }
}
