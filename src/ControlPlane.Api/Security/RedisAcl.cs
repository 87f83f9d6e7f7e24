namespace ControlPlane.Api.Security;

/// <summary>
/// The access part of a Redis node's command line: the control plane's admin and replication users,
/// protected mode, and what clients may never run. Client users (the default user, auth tokens, RBAC
/// users) are given <see cref="ClientRules"/> after their own access string, so that whatever that
/// string allows, the restricted commands stay with the control plane (ACL rules apply left to right).
/// </summary>
public static class RedisAcl
{
    /// <summary>What ElastiCache keeps from its clients (the contract's list), as ACL rules.</summary>
    public static readonly IReadOnlyList<string> ClientRules =
    [
        "-config", "-debug", "-module", "-shutdown", "-save", "-bgsave", "-bgrewriteaof",
        "-replicaof", "-slaveof", "-sync", "-psync", "-replconf", "-migrate", "-failover",
        "-acl|setuser", "-acl|deluser", "-acl|save", "-acl|load",
        "-cluster|addslots", "-cluster|addslotsrange", "-cluster|delslots", "-cluster|delslotsrange",
        "-cluster|failover", "-cluster|forget", "-cluster|meet", "-cluster|replicate", "-cluster|reset",
        "-cluster|saveconfig", "-cluster|set-config-epoch", "-cluster|setslot", "-cluster|flushslots",
        "-cluster|bumpepoch",
    ];

    /// <summary>The default user of a group without auth token or user group: every data command, none of the restricted ones.</summary>
    public static readonly IReadOnlyList<string> OpenDefaultUser = ["on", "nopass", "~*", "&*", "+@all", .. ClientRules];

    /// <summary>
    /// The default user a node starts with: off, so a new connection is not logged in and every
    /// command but AUTH is refused. A node is shut to clients from its first moment until the
    /// reconciler gives it its group's users (open, a token, a user group) on its first step, so a
    /// replacement or a rebooted node of a token group is never briefly open to anyone.
    /// </summary>
    public static readonly IReadOnlyList<string> ClosedDefaultUser = ["off", "resetpass", "~*", "&*", "+@all", .. ClientRules];

    /// <summary>
    /// redis-server arguments: each ACL rule is an argument of its own (redis quotes each one when it
    /// turns the command line into configuration). Passwords appear as SHA-256 only, except
    /// masterauth, which Redis needs in clear; that user can only replicate.
    /// </summary>
    public static IReadOnlyList<string> NodeArguments(NodeSecrets secrets) =>
    [
        "--protected-mode", "yes",
        "--user", .. AdminUserRules(secrets),
        "--user", .. ReplicationUserRules(secrets),
        "--user", "default", .. ClosedDefaultUser,
        "--masteruser", NodeSecrets.ReplicationUser, "--masterauth", secrets.ReplicationPassword,
    ];

    /// <summary>The admin user, name first (as ACL SETUSER and the user directive take it).</summary>
    public static IReadOnlyList<string> AdminUserRules(NodeSecrets secrets) =>
        [NodeSecrets.AdminUser, "on", "#" + NodeSecrets.Hash(secrets.AdminPassword), "~*", "&*", "+@all"];

    /// <summary>What the endpoint proxy's checks need (PING, INFO replication), and nothing else; given by <see cref="Reconciliation.ClientAccessApplier"/>.</summary>
    public static IReadOnlyList<string> HealthUserRules(NodeSecrets secrets) =>
        [NodeSecrets.HealthUser, "reset", "on", "#" + NodeSecrets.Hash(secrets.HealthPassword), "-@all", "+ping", "+info"];

    /// <summary>What a replica needs of its primary, and nothing else.</summary>
    public static IReadOnlyList<string> ReplicationUserRules(NodeSecrets secrets) =>
        [NodeSecrets.ReplicationUser, "on", "#" + NodeSecrets.Hash(secrets.ReplicationPassword), "-@all", "+psync", "+replconf", "+ping"];
}
