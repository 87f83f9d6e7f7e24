using ControlPlane.Api.Data;
using ControlPlane.Domain;
using ControlPlane.Domain.Planning;
using Microsoft.EntityFrameworkCore;

namespace ControlPlane.Api.Security;

/// <summary>
/// The changes every node of a replication group takes online, with no topology step: who may
/// connect (an auth token rotated, set or deleted; a user group added or removed; a change of the
/// user group it uses or of one of its users) and a transit encryption step. As on ElastiCache the
/// group is modifying from the request (stored with the desired change, in one transaction) until
/// every node holds the change, then available again. A node that dies meanwhile does not hold the
/// group for ever: once reported failed it no longer counts, and its replacement starts with the
/// group's current users and transit encryption mode.
/// </summary>
public static class OnlineChanges
{
    /// <summary>The pendingChanges fields of these changes (as the PATCH names them).</summary>
    public static IReadOnlySet<string> Fields { get; } = new HashSet<string>
        { PendingChangesJson.AuthTokenUpdateStrategy, PendingChangesJson.UserGroupIds, PendingChangesJson.TransitEncryptionMode };

    /// <summary>Whether a group's pending changes hold any online change.</summary>
    public static bool Any(PendingChanges? pending) =>
        pending is { AuthTokenUpdateStrategy: not null } or { UserGroupIds: not null } or { TransitEncryptionMode: not null };

    /// <summary>
    /// What the nodes taking part (not failed, not on their way out) do not hold yet of the pending
    /// changes, or null when every one holds them: the users (<paramref name="holdingUsers"/>: the nodes
    /// that answered and have them), and the group's transit encryption mode.
    /// </summary>
    public static string? Lagging(ReplicationGroupEntity group, PendingChanges pending, IReadOnlySet<string> holdingUsers)
    {
        var nodes = group.Shards.SelectMany(s => s.Nodes).Where(n => n.Status is not (NodeStatus.Failed or NodeStatus.Deleting)).OrderBy(n => n.Id).ToList();
        var lagging = new List<string>();
        if ((pending.AuthTokenUpdateStrategy is not null || pending.UserGroupIds is not null) && nodes.Where(n => !holdingUsers.Contains(n.Id)).Select(n => n.Id).ToList() is { Count: > 0 } without)
            lagging.Add($"cache nodes {string.Join(", ", without)} do not hold the group's client users yet");
        if (pending.TransitEncryptionMode is not null && nodes.Where(n => n.TransitEncryptionMode != group.TransitEncryptionMode).Select(n => n.Id).ToList() is { Count: > 0 } behind)
            lagging.Add($"cache nodes {string.Join(", ", behind)} are not at transit encryption mode {group.TransitEncryptionMode} yet");
        return lagging.Count == 0 ? null : string.Join("; ", lagging);
    }

    /// <summary>The event once every node holds the changes.</summary>
    public static string Done(string groupId, PendingChanges pending)
    {
        var done = new List<string>();
        if (pending.AuthTokenUpdateStrategy is { } strategy)
            done.Add(strategy switch
            {
                "rotate" => "the new auth token is accepted on every node, the previous one too until it is set",
                "set" => "only the new auth token is accepted on every node",
                _ => "the auth token is deleted on every node",
            });
        if (pending.UserGroupIds is { } userGroups)
            done.Add(userGroups is { Count: > 0 } ids
                ? $"every node holds the users of user group {string.Join(", ", ids)}"
                : "every node is open to clients without a user group");
        if (pending.TransitEncryptionMode is { } mode)
            done.Add($"every node serves transit encryption mode {mode.To}");
        return $"Modification complete for replication group {groupId}: {string.Join("; ", done)}";
    }

    /// <summary>
    /// A user group's users changed (a member added or removed, a member's passwords or access string):
    /// the available replication groups using it are modifying until their nodes hold the change. Done
    /// in the caller's transaction, with a row update that needs no reload (a group the reconciler saves
    /// meanwhile does not make the user's request fail). Groups in another state keep it: the reconciler
    /// applies the users at every step whatever the group does, and the user group says modifying until then.
    /// </summary>
    public static async Task MarkUsersOfAsync(ControlPlaneDbContext db, IReadOnlyList<string> userGroupIds, TimeProvider time, CancellationToken ct)
    {
        var now = time.GetUtcNow();
        foreach (var userGroupId in userGroupIds)
        {
            var pending = new PendingChanges { UserGroupIds = [TenantNames.Public(userGroupId)] };
            var ids = await db.ReplicationGroups.AsNoTracking().Where(g => g.UserGroupId == userGroupId && g.Status == GroupStatus.Available)
                .Select(g => g.Id).ToListAsync(ct);
            foreach (var id in ids)
            {
                var marked = await db.ReplicationGroups.Where(g => g.Id == id && g.Status == GroupStatus.Available)
                    .ExecuteUpdateAsync(s => s.SetProperty(g => g.Status, GroupStatus.Modifying).SetProperty(g => g.PendingChanges, pending)
                        .SetProperty(g => g.Generation, g => g.Generation + 1).SetProperty(g => g.UpdatedAt, now), ct);
                if (marked == 1)
                    db.Record(time, SourceType.ReplicationGroup, id, $"Modification requested for replication group {id}: the users of user group {userGroupId} changed");
            }
        }
    }
}
