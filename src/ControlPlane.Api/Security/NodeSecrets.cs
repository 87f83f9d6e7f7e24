using System.Security.Cryptography;
using ControlPlane.Api.Data;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.EntityFrameworkCore;

namespace ControlPlane.Api.Security;

/// <summary>
/// The control plane's own passwords on every Redis node: <see cref="AdminUser"/> runs everything
/// clients may not (CONFIG, REPLICAOF, FAILOVER, CLUSTER admin, MIGRATE, BGSAVE, ACL writes);
/// <see cref="ReplicationUser"/> is what a replica logs in to its primary with (PSYNC only).
/// </summary>
public sealed record NodeSecrets(string AdminPassword, string ReplicationPassword)
{
    public const string AdminUser = "cp-admin";
    public const string ReplicationUser = "cp-replication";
    /// <summary>What the endpoint proxy's health checks log in as (PING and INFO only): a node whose default user needs a password answers nothing else.</summary>
    public const string HealthUser = "cp-health";

    /// <summary>Derived from the admin password (which it does not reveal), so it needs no row of its own; it sits in the proxy's configuration file.</summary>
    public string HealthPassword => Hash("health:" + AdminPassword);

    /// <summary>What a node stores instead of a password (ACL's <c>#&lt;sha256&gt;</c>): its command line never holds the admin secret.</summary>
    public static string Hash(string password) =>
        Convert.ToHexStringLower(SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(password)));

    public override string ToString() => "NodeSecrets { *** }";
}

/// <summary>Where the engine clients get the secrets from; null (runtime tests' bare nodes) means no login.</summary>
public interface INodeSecretSource
{
    Task<NodeSecrets> GetAsync(CancellationToken ct);
}

/// <summary>
/// The secrets are generated once per database and stored encrypted with ASP.NET Core Data
/// Protection (row <c>node_secrets</c>); every control plane on the database reads the same ones.
/// Loaded on first use and then kept in memory: the reconciler asks at the start of every pass, so
/// <see cref="Loaded"/> is set before any node spec is built.
/// </summary>
public sealed class NodeSecretStore(IServiceScopeFactory scopes, IDataProtectionProvider protection) : INodeSecretSource
{
    private const string Purpose = "ControlPlane.NodeSecrets.v1";
    private readonly SemaphoreSlim _gate = new(1, 1);
    private volatile NodeSecrets? _loaded;

    /// <summary>The secrets once a <see cref="GetAsync"/> succeeded; NodeSpecs needs them synchronously.</summary>
    public NodeSecrets Loaded => _loaded ?? throw new InvalidOperationException("The node secrets are not loaded yet (NodeSecretStore.GetAsync).");

    public async Task<NodeSecrets> GetAsync(CancellationToken ct)
    {
        if (_loaded is { } loaded)
            return loaded;
        await _gate.WaitAsync(ct);
        try
        {
            if (_loaded is { } again)
                return again;
            var protector = protection.CreateProtector(Purpose);
            await using var scope = scopes.CreateAsyncScope();
            var db = scope.ServiceProvider.GetRequiredService<ControlPlaneDbContext>();
            var admin = await SecretAsync(db, protector, "redis-admin", ct);
            var replication = await SecretAsync(db, protector, "redis-replication", ct);
            return _loaded = new NodeSecrets(admin, replication);
        }
        finally
        {
            _gate.Release();
        }
    }

    private static Task<string> SecretAsync(ControlPlaneDbContext db, IDataProtector protector, string name, CancellationToken ct) =>
        StoredAsync(db, protector, name, () => Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32)), ct);

    /// <summary>The row's secret, made by <paramref name="generate"/> and stored encrypted when there is none yet.</summary>
    internal static async Task<string> StoredAsync(ControlPlaneDbContext db, IDataProtector protector, string name, Func<string> generate, CancellationToken ct)
    {
        // Two control planes starting on a fresh database agree on the first one written.
        var candidate = protector.Protect(generate());
        await db.Database.ExecuteSqlInterpolatedAsync(
            $"""INSERT INTO node_secrets ("Name", "Protected") VALUES ({name}, {candidate}) ON CONFLICT ("Name") DO NOTHING""", ct);
        var stored = await db.NodeSecrets.AsNoTracking().Where(s => s.Name == name).Select(s => s.Protected).SingleAsync(ct);
        return protector.Unprotect(stored);
    }
}

public static class NodeSecretsRegistration
{
    public static IServiceCollection AddNodeSecrets(this IServiceCollection services, IConfiguration configuration)
    {
        var dataProtection = services.AddDataProtection().SetApplicationName("ControlPlane");
        // A folder keeps the key apart from the rows it protects (a database dump alone opens nothing);
        // without one, every control plane on the database shares the ring stored there.
        if (configuration[$"{Options.ControlPlaneOptions.Section}:KeyRingDir"] is { Length: > 0 } folder)
            dataProtection.PersistKeysToFileSystem(new DirectoryInfo(folder));
        else
            dataProtection.PersistKeysToDbContext<ControlPlaneDbContext>();
        services.AddSingleton<NodeSecretStore>();
        services.AddSingleton<INodeSecretSource>(sp => sp.GetRequiredService<NodeSecretStore>());
        return services;
    }
}
