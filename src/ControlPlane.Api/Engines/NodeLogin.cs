using ControlPlane.Api.Security;
using StackExchange.Redis;

namespace ControlPlane.Api.Engines;

/// <summary>
/// Every connection of the control plane to a node (the admin's and the slot mover's) logs in as
/// its admin user, without secrets (bare test nodes) as default, and sends nothing it was not asked.
/// </summary>
internal static class NodeLogin
{
    public static async Task<ConnectionMultiplexer> ConnectAsync(ConfigurationOptions options, INodeSecretSource? secrets, CancellationToken ct)
    {
        options = Quiet(options);
        if (secrets is null)
            return await ConnectionMultiplexer.ConnectAsync(options);
        var login = await secrets.GetAsync(ct);
        var asAdmin = options.Clone();
        asAdmin.User = NodeSecrets.AdminUser;
        asAdmin.Password = login.AdminPassword;

        // A refused AUTH leaves the connection open as the default user, and the client carries on:
        // ask the node who we are rather than trust the handshake.
        var connection = await ConnectionMultiplexer.ConnectAsync(asAdmin);
        if (await IsAdminAsync(connection, options))
            return connection;

        // A node started by a control plane of before node users: no admin user, and a default user
        // that may still do everything. It gets ours, so that it can be probed, handed over and
        // replicated from (replicas log in as the replication user) until it is replaced (its command
        // line is outdated). On a node of ours the default user is refused all of this.
        try
        {
            await AdoptAsync(Node(connection, options), login);
        }
        finally
        {
            await connection.DisposeAsync();
        }
        connection = await ConnectionMultiplexer.ConnectAsync(asAdmin);
        if (await IsAdminAsync(connection, options))
            return connection;
        await connection.DisposeAsync();
        throw new RedisConnectionException(ConnectionFailureType.AuthenticationFailure, CommandFlags.None,
            $"{options.EndPoints.FirstOrDefault()} refuses the control plane's login ({NodeSecrets.AdminUser}).", null, CommandStatus.Unknown);
    }

    /// <summary>
    /// A multiplexer that meets a cluster node dials every node of it that holds slots, replicas
    /// included: one cluster of n nodes keeps n times n connections from us (9,916 for 100 nodes).
    /// The client's own traffic on each is switched off.
    /// </summary>
    private static ConfigurationOptions Quiet(ConfigurationOptions options)
    {
        var quiet = options.Clone();
        // No INFO replication each minute (its role check): every command names its node, so the
        // client's idea of who is primary is never used.
        quiet.ConfigCheckSeconds = 0;
        // Nor a keep-alive PING on a connection idle for a minute: about 170 round trips a second for
        // that 100-node cluster. TCP's own keep-alive still finds a dead peer, and a connection the
        // node closed is opened afresh.
        quiet.KeepAlive = 600;
        return quiet;
    }

    private static async Task<bool> IsAdminAsync(ConnectionMultiplexer connection, ConfigurationOptions options) =>
        (string?)await Node(connection, options).ExecuteAsync("ACL", "WHOAMI") == NodeSecrets.AdminUser;

    // The node we connected to by name: a multiplexer that meets a cluster node also lists (and dials) its slot-serving peers.
    private static IServer Node(ConnectionMultiplexer connection, ConfigurationOptions options) =>
        connection.GetServer(options.EndPoints.Single());

    private static async Task AdoptAsync(IServer server, NodeSecrets login)
    {
        object[] admin = ["SETUSER", .. RedisAcl.AdminUserRules(login)];
        object[] replication = ["SETUSER", .. RedisAcl.ReplicationUserRules(login)];
        await server.ExecuteAsync("ACL", admin);
        await server.ExecuteAsync("ACL", replication);
        await server.ExecuteAsync("CONFIG", "SET", "masteruser", NodeSecrets.ReplicationUser, "masterauth", login.ReplicationPassword);
    }
}
