using Microsoft.Extensions.Logging;
using ControlPlane.Api.Data;
using ControlPlane.Migrations;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace ControlPlane.Api.Tests.Infrastructure;

/// <summary>The real API host on a real database; the clock is a FakeTimeProvider the test moves.</summary>
public sealed class ApiFactory(string connectionString, IReadOnlyDictionary<string, string?>? settings = null, bool fakeClock = true) : WebApplicationFactory<Program>
{
    public FakeTimeProvider Clock { get; } = new(DateTimeOffset.UtcNow);

    /// <summary>This host's snapshot store, a folder of its own that goes with the host.</summary>
    public string SnapshotDir { get; } = Directory.CreateTempSubdirectory("cp-snapshots-").FullName;

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseEnvironment("Testing");
        builder.UseSetting("ConnectionStrings:ControlPlane", connectionString);
        // API tests play the reconciler's part themselves; the reconciler tests turn it on.
        builder.UseSetting("ControlPlane:Reconciler:Enabled", "false");
        builder.UseSetting("ControlPlane:SnapshotDir", SnapshotDir);
        builder.UseSetting("ControlPlane:AdminKey", TestKeys.Admin);
        foreach (var (key, value) in settings ?? new Dictionary<string, string?>())
            builder.UseSetting(key, value);
        if (fakeClock)
            builder.ConfigureServices(services => services.AddSingleton<TimeProvider>(Clock));
        // The host's own log, down to Debug, into a file: what a failing reconciler test did, step by step.
        if (Environment.GetEnvironmentVariable("CONTROLPLANE_TEST_LOG") is { Length: > 0 } logFile)
            builder.ConfigureLogging(l => l.AddProvider(new FileLog(logFile)).AddFilter<FileLog>(null, LogLevel.Debug));
    }

    /// <summary>Every client of the host carries the admin key unless a test takes it off (or sets another).</summary>
    protected override void ConfigureClient(HttpClient client)
    {
        base.ConfigureClient(client);
        client.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", TestKeys.Admin);
    }

    public ControlPlaneDbContext NewDbContext() => Migrator.CreateContext(connectionString);

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        try
        {
            Directory.Delete(SnapshotDir, recursive: true);
        }
        catch (DirectoryNotFoundException)
        {
            // Removed already.
        }
    }
}

/// <summary>One Postgres for the API tests, each test class with its own database, migrated by the real migrator.</summary>
public sealed class PostgresFixture : IAsyncLifetime
{
    private static int _databases;

    public PostgresServer Server { get; private set; } = null!;

    public async Task InitializeAsync() => Server = await PostgresServer.StartAsync();

    public async Task<string> NewDatabaseAsync()
    {
        var connectionString = await Server.CreateDatabaseAsync($"test_{Interlocked.Increment(ref _databases)}");
        await Migrator.MigrateAsync(connectionString, CancellationToken.None);
        return connectionString;
    }

    public async Task DisposeAsync() => await Server.DisposeAsync();
}

[CollectionDefinition(Name)]
public sealed class PostgresCollection : ICollectionFixture<PostgresFixture>
{
    public const string Name = "postgres";
}

/// <summary>Appends the control plane's log lines (its own categories, Debug and up) to one file.</summary>
public sealed class FileLog(string path) : ILoggerProvider
{
    private static readonly Lock Writing = new();

    public ILogger CreateLogger(string categoryName) => new Logger(path, categoryName);

    public void Dispose()
    {
    }

    private sealed class Logger(string path, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => category.StartsWith("ControlPlane", StringComparison.Ordinal);

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            lock (Writing)
                File.AppendAllText(path, $"{DateTime.UtcNow:HH:mm:ss.fff} {logLevel} {category}: {formatter(state, exception)} {exception}\n");
        }
    }
}
