using System.Collections.Concurrent;
using ControlPlane.Api.Data;
using ControlPlane.Api.Engines;
using ControlPlane.Api.Reconciliation;
using ControlPlane.Domain;
using ControlPlane.Domain.Planning;
using Microsoft.EntityFrameworkCore;

namespace ControlPlane.Api.Security;

/// <summary>
/// Brings every answering node of a replication group to the client users its desired state names
/// (its auth tokens, or its user group's users), on every reconciler step, through the control
/// plane's admin connection: online, so clients stay connected, and on nodes that join later too
/// (replacements, scale-out, failover replicas, restored snapshots, warm-pool containers) as soon
/// as they answer. A node is only written to when what it should hold changed since it was last
/// written (per container). Once every answering node holds a user group's current revision, the
/// group says so (<see cref="ReplicationGroupEntity.ClientAccessApplied"/>): users and user groups
/// are active again. It answers which nodes hold the users now, so that a modification of them
/// ends only once every node does (<see cref="OnlineChanges"/>).
/// </summary>
public sealed partial class ClientAccessApplier(IRedisAdmin redis, ClientSecrets secrets, ILogger<ClientAccessApplier> logger)
{
    private readonly ConcurrentDictionary<string, string> _applied = new();

    /// <summary>The client users a group's nodes must have now.</summary>
    public async Task<IReadOnlyList<AclUser>> DesiredAsync(ControlPlaneDbContext db, ReplicationGroupEntity group, CancellationToken ct)
    {
        if (group.UserGroupId is not { } userGroupId)
            return ClientAccess.ForTokens(secrets.Unprotect(group.AuthTokens));
        var userGroup = await db.UserGroups.AsNoTracking().FirstOrDefaultAsync(g => g.Id == userGroupId, ct);
        if (userGroup is null)
            return ClientAccess.ForTokens([]);
        var users = await db.Users.AsNoTracking().Where(u => userGroup.UserIds.Contains(u.Id)).ToListAsync(ct);
        return ClientAccess.ForUsers(users.Select(u => new ClientUser(u.UserName,
            u.NoPasswordRequired ? [] : secrets.Unprotect(u.Passwords).OfType<string>().ToList(), u.NoPasswordRequired, u.AccessString)));
    }

    /// <summary>The node's engine restarted in its container (a reboot): it runs with its start-up users again until written to.</summary>
    public void Restarted(string nodeId) => _applied.TryRemove(nodeId, out _);

    /// <summary>Writes the users to every answering node that does not have them yet; returns the ids of the nodes that hold them now.</summary>
    public async Task<IReadOnlySet<string>> ApplyAsync(ControlPlaneDbContext db, ReplicationGroupEntity group, IReadOnlyList<NodePlace> places,
        IReadOnlyDictionary<string, ObservedNode> observed, ContainerView view, CancellationToken ct)
    {
        var users = await DesiredAsync(db, group, ct);
        var fingerprint = ClientAccess.Fingerprint(users);
        var everywhere = true;
        var holding = new HashSet<string>();
        foreach (var place in places.Where(p => p.Host is not null && p.Port is not null && observed.GetValueOrDefault(p.NodeId) is { Reachable: true }))
        {
            var container = view.ContainerIdOf(place);
            var key = $"{container}|{place.Host}:{place.Port}|{fingerprint}";
            if (container is not null && _applied.GetValueOrDefault(place.NodeId) == key)
            {
                holding.Add(place.NodeId);
                continue;
            }
            try
            {
                await redis.SetClientUsersAsync(place.Host!, place.Port!.Value, users, ct);
                holding.Add(place.NodeId);
                // A container this pass's listing does not show yet is written again next step, until it does.
                if (container is not null)
                    _applied[place.NodeId] = key;
                LogApplied(logger, place.NodeId, fingerprint, users.Count);
            }
            catch (Exception e) when (e is StackExchange.Redis.RedisException or TimeoutException or InvalidOperationException)
            {
                everywhere = false;
                LogApplyFailed(logger, place.NodeId, e.Message);
            }
        }
        var mark = everywhere && group.UserGroupId is { } id
            ? (await db.UserGroups.AsNoTracking().Where(g => g.Id == id).Select(g => new { g.Id, g.Revision }).FirstOrDefaultAsync(ct)) is { } current
                ? $"{current.Id}@{current.Revision}" : null
            : null;
        if (everywhere && group.ClientAccessApplied != mark)
        {
            group.ClientAccessApplied = mark;
            await db.SaveChangesAsync(ct);
        }
        return holding;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Client users {Fingerprint} ({Count}) applied to node {NodeId}")]
    private static partial void LogApplied(ILogger logger, string nodeId, string fingerprint, int count);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Applying the client users to node {NodeId} failed: {Reason}")]
    private static partial void LogApplyFailed(ILogger logger, string nodeId, string reason);
}
