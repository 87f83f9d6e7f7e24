using ControlPlane.Api.Data;
using ControlPlane.Migrations;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Metadata;
using Microsoft.EntityFrameworkCore.Storage.ValueConversion;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace ControlPlane.Api.Tests.Simulation;

/// <summary>
/// The database of one seed's run, and what the control plane's host needs to use it. Two kinds:
/// <see cref="SimPostgres"/> (the real one, round trips and all) and <see cref="SimSqlite"/> (in
/// memory, for hundreds of seeds).
/// </summary>
public abstract class SimDatabase : IDisposable
{
    /// <summary>Postgres commands in flight, for the scheduler to wait for; null when every command runs on the caller's thread.</summary>
    public abstract PostgresInFlight? InFlight { get; }

    /// <summary>The host's ConnectionStrings:ControlPlane setting.</summary>
    public abstract string Setting { get; }

    /// <summary>A context for the simulation's own reads (the invariants), outside the control plane.</summary>
    public abstract ControlPlaneDbContext CreateContext();

    /// <summary>Points a control plane's host at this database, <paramref name="failing"/> in front of every EF command.</summary>
    public abstract void Configure(IServiceCollection services, FailingCommands failing);

    /// <summary>Readies the database for a new seed: nothing of the previous one's left.</summary>
    public abstract Task ResetAsync();

    public virtual void Dispose()
    {
    }
}

/// <summary>
/// One Postgres database for every seed of a test, wiped between seeds. Slower (every command a
/// round trip, answered on Npgsql's threads), but it is the database the control plane runs on:
/// its locks, its row versions, its errors.
/// </summary>
public sealed class SimPostgres(string connectionString, PostgresInFlight inFlight) : SimDatabase
{
    public override PostgresInFlight? InFlight => inFlight;

    public override ControlPlaneDbContext CreateContext() => Migrator.CreateContext(connectionString);

    public override string Setting => connectionString;

    public override void Configure(IServiceCollection services, FailingCommands failing) =>
        services.ConfigureDbContext<ControlPlaneDbContext>(o => o.AddInterceptors(failing), Database.OptionsLifetime);

    /// <summary>Every row the previous seed left (groups, nodes, leases, events).</summary>
    public override async Task ResetAsync()
    {
        await using var db = CreateContext();
        // The key ring and the secrets it encrypts, API keys and parameter groups stay: no seed changes them.
        Type[] keep = [typeof(NodeSecretEntity), typeof(Microsoft.AspNetCore.DataProtection.EntityFrameworkCore.DataProtectionKey), typeof(ApiKeyEntity), typeof(ParameterGroupEntity)];
        var tables = db.Model.GetEntityTypes().Where(e => !keep.Contains(e.ClrType)).Select(e => e.GetTableName()).OfType<string>().Distinct().ToList();
        var truncate = "TRUNCATE " + string.Join(", ", tables.Select(t => $"\"{t}\"")) + " CASCADE";
        await db.Database.ExecuteSqlRawAsync(truncate);
    }
}

/// <summary>
/// A fresh SQLite database in memory for every seed, with the control plane's model. Microsoft.Data.Sqlite
/// runs every command on the caller's thread (it has no asynchronous I/O), so the whole control plane
/// runs on the scheduler's one thread and a run is a function of its seed alone; a command costs
/// microseconds, not a round trip. What it does not have, and how the control plane does without:
/// advisory locks (one process owns the database: <see cref="Reconciliation.GroupLock"/> is in-process,
/// transactions keep the rest apart), NOTIFY (the driver runs every pass), xmin (row versions stay 0:
/// no second writer in a simulation). Dates are stored as numbers, which SQLite can order.
/// </summary>
public sealed class SimSqlite : SimDatabase
{
    private static int _databases;
    private SqliteConnection? _keeper;

    public string ConnectionString { get; private set; } = "";

    public override PostgresInFlight? InFlight => null;

    /// <summary>No Postgres: whatever reads the setting to reach one fails at once rather than finding another database.</summary>
    public override string Setting => "Host=127.0.0.1;Port=1;Database=none;Timeout=1";

    public override ControlPlaneDbContext CreateContext() =>
        new((DbContextOptions<ControlPlaneDbContext>)Use(new DbContextOptionsBuilder<ControlPlaneDbContext>(), ConnectionString).Options);

    public override void Configure(IServiceCollection services, FailingCommands failing)
    {
        // The host's own registration is Postgres's; this one replaces it whole.
        services.RemoveAll<IDbContextOptionsConfiguration<ControlPlaneDbContext>>();
        services.ConfigureDbContext<ControlPlaneDbContext>(o => Use(o, ConnectionString).AddInterceptors(failing), Database.OptionsLifetime);
    }

    /// <summary>A new, empty database (the previous seed's goes with its last connection).</summary>
    public override Task ResetAsync()
    {
        Close();
        ConnectionString = $"Data Source=cp-sim-{Environment.ProcessId}-{Interlocked.Increment(ref _databases)};Mode=Memory;Cache=Shared";
        // An in-memory database lives while a connection to it is open.
        _keeper = new SqliteConnection(ConnectionString);
        _keeper.Open();
        using var create = _keeper.CreateCommand();
        create.CommandText = CreateScript.Value;
        create.ExecuteNonQuery();
        return Task.CompletedTask;
    }

    /// <summary>
    /// The schema's DDL, generated once: EnsureCreated diffed the model into it again for every seed.
    /// Microsoft.Data.Sqlite runs every statement of a command's text.
    /// </summary>
    private static readonly Lazy<string> CreateScript = new(() =>
    {
        using var db = new ControlPlaneDbContext((DbContextOptions<ControlPlaneDbContext>)Use(new DbContextOptionsBuilder<ControlPlaneDbContext>(), "Data Source=:memory:").Options);
        return db.Database.GenerateCreateScript();
    });

    public override void Dispose() => Close();

    /// <summary>The last connection to the seed's database goes, and the database with it.</summary>
    private void Close()
    {
        if (_keeper is null)
            return;
        SqliteConnection.ClearPool(_keeper);
        _keeper.Dispose();
        _keeper = null;
    }

    /// <summary>
    /// EF's own services, shared by every life of every seed: each host would otherwise get its own
    /// (they are keyed by the options, its logger factory among them), and build the model and compile
    /// every query again, and keep them all for the life of the process.
    /// </summary>
    private static readonly IServiceProvider EfServices = new ServiceCollection()
        .AddSingleton<IModelCustomizer, SqliteModel>()
        .AddEntityFrameworkSqlite()
        .BuildServiceProvider();

    private static DbContextOptionsBuilder Use(DbContextOptionsBuilder options, string connectionString) =>
        options.UseSqlite(connectionString).UseInternalServiceProvider(EfServices);

    /// <summary>The control plane's model, with what SQLite lacks put another way.</summary>
    private sealed class SqliteModel(ModelCustomizerDependencies dependencies) : RelationalModelCustomizer(dependencies)
    {
        public override void Customize(ModelBuilder modelBuilder, DbContext context)
        {
            base.Customize(modelBuilder, context);
            foreach (var property in modelBuilder.Model.GetEntityTypes().SelectMany(e => e.GetProperties()))
            {
                // SQLite cannot compare or order DateTimeOffset text; as numbers it can (every time here is UTC).
                if (property.ClrType == typeof(DateTimeOffset) || property.ClrType == typeof(DateTimeOffset?))
                    property.SetValueConverter(new DateTimeOffsetToBinaryConverter());
                // xmin is Postgres's: the row version stays what it was written with.
                if (property.IsConcurrencyToken && property.ValueGenerated == ValueGenerated.OnAddOrUpdate)
                    property.ValueGenerated = ValueGenerated.Never;
            }
        }
    }
}
