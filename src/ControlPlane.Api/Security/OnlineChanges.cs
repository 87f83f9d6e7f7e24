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
/// every node holds the change, then available again: the planner decides when
/// (<see cref="PendingChanges.HasOnlineChange"/>, and RedisPlanner's AwaitOnlineChanges), from the
/// users the reconciler wrote to each node and the transit encryption mode each node's row says it is at.
/// </summary>
public static class OnlineChanges
{
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
