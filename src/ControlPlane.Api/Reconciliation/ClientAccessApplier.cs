using System.Collections.Concurrent;
using ControlPlane.Api.Data;
using ControlPlane.Api.Engines;
using ControlPlane.Api.Runtime;
using ControlPlane.Api.Security;
using ControlPlane.Domain.Planning;
using Microsoft.EntityFrameworkCore;

namespace ControlPlane.Api.Reconciliation;

/// <summary>
/// Gives a replication group's nodes the client users its desired state names (its auth tokens, or its
/// user group's users), through the control plane's admin connection: online, so clients stay connected.
/// Which nodes, and when, is the planner's decision (<see cref="SetClientUsers"/>); this class loads what
/// they must hold, writes it to one node, and remembers what it wrote to each node's container, so that
/// the planner knows which nodes hold the users now (<see cref="ObservedNode.HoldsUsers"/>) without the
/// users being read back from every node at every step.
/// </summary>
public sealed partial class ClientAccessApplier(IRedisAdmin redis, ClientSecrets secrets, ILogger<ClientAccessApplier> logger)
{
    private readonly ConcurrentDictionary<string, string> _applied = new();

    /// <summary>The client users a group's nodes must have now, with the revision of its user group they are.</summary>
    public async Task<GroupClientUsers> DesiredAsync(ControlPlaneDbContext db, ReplicationGroupEntity group, CancellationToken ct)
    {
        if (group.UserGroupId is not { } userGroupId)
            return For(ClientAccess.ForTokens(secrets.Unprotect(group.AuthTokens)), null);
        var userGroup = await db.UserGroups.AsNoTracking().FirstOrDefaultAsync(g => g.Id == userGroupId, ct);
        if (userGroup is null)
            return For(ClientAccess.ForTokens([]), null);
        var users = await db.Users.AsNoTracking().Where(u => userGroup.UserIds.Contains(u.Id)).ToListAsync(ct);
        return For(ClientAccess.ForUsers(users.Select(u => new ClientUser(u.UserName,
            u.NoPasswordRequired ? [] : secrets.Unprotect(u.Passwords).OfType<string>().ToList(), u.NoPasswordRequired, u.AccessString))), userGroup.AppliedMark);
    }

    private static GroupClientUsers For(IReadOnlyList<AclUser> users, string? mark) => new(users, ClientAccess.Fingerprint(users), mark);

    /// <summary>What was observed, each node saying whether it holds these users (written to its container since its engine last started).</summary>
    public IReadOnlyDictionary<string, ObservedNode> Holding(IReadOnlyDictionary<string, ObservedNode> observed, IReadOnlyList<NodePlace> places, ContainerView view, string fingerprint)
    {
        var holding = new Dictionary<string, ObservedNode>(observed);
        foreach (var place in places)
            if (holding.GetValueOrDefault(place.NodeId) is { } node)
                holding[place.NodeId] = node with { HoldsUsers = place.Port is not null && _applied.GetValueOrDefault(place.NodeId) == Key(place, view, fingerprint) };
        return holding;
    }

    /// <summary>Writes the users to the node and remembers it; a failure is logged, and the planner asks again while the node lacks them.</summary>
    public async Task ApplyAsync(NodePlace place, ContainerView view, GroupClientUsers users, CancellationToken ct)
    {
        try
        {
            await redis.SetClientUsersAsync(place.Host!, place.Port!.Value, users.Users, ct);
            _applied[place.NodeId] = Key(place, view, users.Fingerprint);
            LogApplied(logger, place.NodeId, users.Fingerprint, users.Users.Count);
        }
        catch (Exception e) when (e is EngineException or TimeoutException or InvalidOperationException)
        {
            LogApplyFailed(logger, place.NodeId, e.Message);
        }
    }

    /// <summary>The node's engine restarted in its container (a reboot): it runs with its start-up users again until written to.</summary>
    public void Restarted(string nodeId) => _applied.TryRemove(nodeId, out _);

    // A new container starts with its start-up users. One the pass's view does not know (its zone's engine
    // did not answer the listing) is taken for the one written to: nothing replaces a container in a zone
    // this control plane cannot reach, and a reboot forgets what was written anyway.
    private static string Key(NodePlace place, ContainerView view, string fingerprint) => $"{view.ContainerIdOf(place)}|{place.Host}:{place.Port}|{fingerprint}";

    [LoggerMessage(Level = LogLevel.Information, Message = "Client users {Fingerprint} ({Count}) applied to node {NodeId}")]
    private static partial void LogApplied(ILogger logger, string nodeId, string fingerprint, int count);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Applying the client users to node {NodeId} failed: {Reason}")]
    private static partial void LogApplyFailed(ILogger logger, string nodeId, string reason);
}
