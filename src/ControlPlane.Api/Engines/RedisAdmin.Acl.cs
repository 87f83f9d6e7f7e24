using ControlPlane.Api.Security;
using StackExchange.Redis;

namespace ControlPlane.Api.Engines;

public sealed partial class RedisAdmin
{
    /// <summary>
    /// Gives the node exactly these client users (ACL SETUSER each, each one atomic, then ACL DELUSER
    /// for client users it has beyond them; the control plane's own users are never touched). Clients
    /// logged in keep their connection; a deleted user's are closed by the engine.
    /// </summary>
    public Task SetClientUsersAsync(string host, int port, IReadOnlyList<AclUser> users, CancellationToken ct) =>
        EngineErrors.GuardAsync(() => SetClientUsersCoreAsync(host, port, users, ct));

    private async Task SetClientUsersCoreAsync(string host, int port, IReadOnlyList<AclUser> users, CancellationToken ct)
    {
        var server = await ServerAsync(host, port, ct);
        // The proxy's health checks log in before anything else: a node whose default user needs a password answers them too.
        if (secrets is not null)
            await server.ExecuteAsync("ACL", ["SETUSER", .. RedisAcl.HealthUserRules(await secrets.GetAsync(ct))]).WaitAsync(CommandTimeout, _time, ct);
        foreach (var user in users)
            await server.ExecuteAsync("ACL", ["SETUSER", user.Name, .. user.Rules]).WaitAsync(CommandTimeout, _time, ct);
        var wanted = users.Select(u => u.Name).Append(NodeSecrets.AdminUser).Append(NodeSecrets.ReplicationUser).Append(NodeSecrets.HealthUser).Append("default")
            .ToHashSet(StringComparer.Ordinal);
        var present = (RedisResult[]?)await server.ExecuteAsync("ACL", "USERS").WaitAsync(CommandTimeout, _time, ct) ?? [];
        var extra = present.Select(r => (string?)r).OfType<string>().Where(name => !wanted.Contains(name)).ToList();
        if (extra.Count > 0)
            await server.ExecuteAsync("ACL", ["DELUSER", .. extra]).WaitAsync(CommandTimeout, _time, ct);
    }

    /// <summary>
    /// The engine's own verdict on an access string: ACL SETUSER of a scratch user (off, no password,
    /// so nobody can log in as it even for the instant it exists), then ACL DELUSER. Null when the
    /// engine took it, else its error text.
    /// </summary>
    public Task<string?> CheckAccessStringAsync(string host, int port, IReadOnlyList<string> rules, CancellationToken ct) =>
        EngineErrors.GuardAsync(() => CheckAccessStringCoreAsync(host, port, rules, ct));

    private async Task<string?> CheckAccessStringCoreAsync(string host, int port, IReadOnlyList<string> rules, CancellationToken ct)
    {
        var server = await ServerAsync(host, port, ct);
        var scratch = $"cp-check-{Guid.NewGuid():N}";
        try
        {
            await server.ExecuteAsync("ACL", ["SETUSER", scratch, "reset", .. rules, "off", "resetpass"]).WaitAsync(CommandTimeout, _time, ct);
            return null;
        }
        catch (RedisServerException e)
        {
            return e.Message;
        }
        finally
        {
            await server.ExecuteAsync("ACL", "DELUSER", scratch).WaitAsync(CommandTimeout, _time, ct);
        }
    }
}
