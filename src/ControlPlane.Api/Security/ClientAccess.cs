using System.Security.Cryptography;
using System.Text;

namespace ControlPlane.Api.Security;

/// <summary>One client ACL user of a node: its name and its rules after <c>reset</c>, restricted commands last.</summary>
public sealed record AclUser(string Name, IReadOnlyList<string> Rules);

/// <summary>What a member of a user group is on the nodes: its ACL name, decrypted passwords (none: nopass) and access string.</summary>
public sealed record ClientUser(string UserName, IReadOnlyList<string> Passwords, bool NoPasswordRequired, string AccessString);

/// <summary>
/// The client users every node of a replication group must have, from its auth tokens or its user
/// group, and nothing else: the admin and replication users are the control plane's and are never
/// among them. Each user's rules start with <c>reset</c> (so ACL SETUSER leaves nothing of before) and
/// end with <see cref="RedisAcl.ClientRules"/> (rules apply left to right: whatever the access string
/// allows, the restricted commands stay with the control plane).
/// </summary>
public static class ClientAccess
{
    /// <summary>No auth token and no user group: the open default user every node starts with.</summary>
    public static IReadOnlyList<AclUser> Open { get; } = [new("default", ["reset", .. RedisAcl.OpenDefaultUser])];

    /// <summary>
    /// The default user with the group's tokens (newest first). A null token is "no password" (a
    /// rotation from an open group: both the token and no token work until the next set).
    /// </summary>
    public static IReadOnlyList<AclUser> ForTokens(IReadOnlyList<string?> tokens)
    {
        if (tokens.Count == 0)
            return Open;
        List<string> rules = ["reset", "on"];
        rules.AddRange(tokens.Any(t => t is null) ? ["nopass"] : tokens.Select(t => "#" + NodeSecrets.Hash(t!)));
        rules.AddRange(["~*", "&*", "+@all", .. RedisAcl.ClientRules]);
        return [new("default", rules)];
    }

    /// <summary>
    /// The members of a user group. The API ensures one of them is named default; were none, the
    /// default user would be switched off rather than left as it was (open).
    /// </summary>
    public static IReadOnlyList<AclUser> ForUsers(IEnumerable<ClientUser> users)
    {
        var acl = users.OrderBy(u => u.UserName, StringComparer.Ordinal).Select(u => new AclUser(u.UserName,
        [
            "reset",
            .. u.NoPasswordRequired ? ["nopass"] : u.Passwords.Select(p => "#" + NodeSecrets.Hash(p)),
            .. Domain.ClientAccessRules.Rules(u.AccessString),
            .. RedisAcl.ClientRules,
        ])).ToList();
        if (acl.All(u => u.Name != Domain.ClientAccessRules.DefaultUserName))
            acl.Insert(0, new AclUser(Domain.ClientAccessRules.DefaultUserName, ["reset", "off", .. RedisAcl.ClientRules]));
        return acl;
    }

    /// <summary>Names the whole set of users and rules, so that a node is only written to when it changed.</summary>
    public static string Fingerprint(IReadOnlyList<AclUser> users) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(string.Join('\n', users.Select(u => u.Name + " " + string.Join(' ', u.Rules))))))[..16];
}
