using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using Npgsql;

namespace ControlPlane.Api.Tests.Infrastructure;

/// <summary>
/// A real, throwaway PostgreSQL cluster in a temporary folder, on a free loopback port. It can be
/// stopped and started again, which is how the tests take the database away from a running API.
/// Locked down as deploy/up.sh's is: password (SCRAM) authentication for every connection, and
/// the tests connect as <see cref="ServiceRole"/>, a role that is no superuser and owns only the
/// test databases.
/// </summary>
public sealed class PostgresServer : IAsyncDisposable
{
    private readonly string _bin;
    private readonly string _root;
    private readonly int _port;

    private PostgresServer(string bin, string root, int port) => (_bin, _root, _port) = (bin, root, port);

    public const string ServiceRole = "controlplane";

    public int Port => _port;

    public string BinDir => _bin;

    private string SuperuserPassword { get; } = Convert.ToHexString(RandomNumberGenerator.GetBytes(16));

    private string ServicePassword { get; } = Convert.ToHexString(RandomNumberGenerator.GetBytes(16));

    /// <summary>The service role's connection to a database.</summary>
    public string ConnectionString(string database) =>
        $"Host=127.0.0.1;Port={_port};Database={database};Username={ServiceRole};Password={ServicePassword};Timeout=3;Command Timeout=15";

    private string SuperuserConnectionString =>
        $"Host=127.0.0.1;Port={_port};Database=postgres;Username=postgres;Password={SuperuserPassword};Timeout=3;Command Timeout=15";

    public static async Task<PostgresServer> StartAsync()
    {
        var bin = FindBinDir();
        var root = Directory.CreateTempSubdirectory("cp-pg-").FullName;
        var server = new PostgresServer(bin, root, FreePort());
        if (Environment.IsPrivilegedProcess)
            await RunAsync("chown", "postgres:postgres", root); // Postgres refuses to run as root.
        var passwordFile = Path.Combine(root, "pwfile");
        await File.WriteAllTextAsync(passwordFile, server.SuperuserPassword);
        if (Environment.IsPrivilegedProcess)
            await RunAsync("chown", "postgres:postgres", passwordFile);
        await server.PgAsync("initdb", "-D", server.Data, "-U", "postgres", "-A", "scram-sha-256", "--pwfile", passwordFile, "--no-sync", "-E", "UTF8");
        File.Delete(passwordFile);
        await server.StartAgainAsync();
        await server.SuperuserAsync($"CREATE ROLE {ServiceRole} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD '{server.ServicePassword}'");
        return server;
    }

    private string Data => Path.Combine(_root, "data");

    public async Task StartAgainAsync() =>
        await PgAsync("pg_ctl", "-D", Data, "-l", Path.Combine(_root, "log"), "-w", "-t", "60", "-o",
            $"-p {_port} -k {_root} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=400",
            "start");

    public Task StopAsync() => PgAsync("pg_ctl", "-D", Data, "-w", "-m", "fast", "stop");

    public async Task<string> CreateDatabaseAsync(string name)
    {
        await SuperuserAsync($"CREATE DATABASE \"{name}\" OWNER {ServiceRole}");
        return ConnectionString(name);
    }

    private async Task SuperuserAsync(string sql)
    {
        await using var connection = new NpgsqlConnection(SuperuserConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }

    public async ValueTask DisposeAsync()
    {
        NpgsqlConnection.ClearAllPools();
        try
        {
            await PgAsync("pg_ctl", "-D", Data, "-w", "-m", "immediate", "stop");
        }
        catch (InvalidOperationException)
        {
            // Already stopped.
        }
        Directory.Delete(_root, recursive: true);
    }

    private Task PgAsync(string tool, params string[] args)
    {
        var path = Path.Combine(_bin, tool);
        return Environment.IsPrivilegedProcess ? RunAsync("runuser", ["-u", "postgres", "--", path, .. args]) : RunAsync(path, args);
    }

    private static async Task RunAsync(string file, params string[] args)
    {
        var info = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = "/" };
        foreach (var arg in args)
            info.ArgumentList.Add(arg);
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0)
            throw new InvalidOperationException($"{file} {string.Join(' ', args)} exited {process.ExitCode}: {await stdout}{await stderr}");
    }

    private static string FindBinDir()
    {
        if (Environment.GetEnvironmentVariable("CONTROLPLANE_PG_BINDIR") is { Length: > 0 } configured)
            return configured;
        return Directory.Exists("/usr/lib/postgresql")
            ? Directory.GetDirectories("/usr/lib/postgresql").Select(d => Path.Combine(d, "bin"))
                .Where(d => File.Exists(Path.Combine(d, "initdb"))).OrderByDescending(d => d.Length).ThenByDescending(d => d).FirstOrDefault()
              ?? throw new InvalidOperationException("No PostgreSQL server binaries; run ./deploy/test.sh, which installs them.")
            : throw new InvalidOperationException("No PostgreSQL server binaries; run ./deploy/test.sh, which installs them.");
    }

    /// <summary>psql as <paramref name="role"/>, without a password (none in the environment, no password file): refused.</summary>
    public static async Task AssertPsqlWithoutPasswordRefusedAsync(string binDir, int port, string role)
    {
        var info = new ProcessStartInfo(Path.Combine(binDir, "psql"), ["-w", "-X", "-h", "127.0.0.1", "-p", $"{port}", "-U", role, "-d", "postgres", "-c", "SELECT 1"])
        {
            RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = "/",
        };
        info.Environment.Remove("PGPASSWORD");
        info.Environment["PGPASSFILE"] = "/nonexistent";
        using var psql = Process.Start(info)!;
        var error = await psql.StandardError.ReadToEndAsync();
        await psql.WaitForExitAsync();
        Assert.NotEqual(0, psql.ExitCode);
        Assert.Contains("password", error, StringComparison.OrdinalIgnoreCase);
    }

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
