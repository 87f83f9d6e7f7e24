using ControlPlane.Api.Contracts;
using ControlPlane.Api.Data;
using ControlPlane.Api.Http;
using ControlPlane.Api.Security;
using ControlPlane.Domain;
using Microsoft.EntityFrameworkCore;

namespace ControlPlane.Api.Endpoints;

/// <summary>
/// Who may use a replication group's nodes, as its create and PATCH set it: an auth token (the
/// default user requires it; PATCH rotates, sets or deletes it) or one user group (RBAC), never
/// both. Only the desired state is written here; the reconciler applies it to every node online
/// (<see cref="Reconciliation.ClientAccessApplier"/>). The token's format is the group's validator's business.
/// </summary>
public static class ReplicationGroupAccess
{
    /// <summary>The stored id of the user group a create names, or the problem with it.</summary>
    public static async Task<(string? UserGroupId, IResult? Problem)> CheckCreateAsync(
        ControlPlaneDbContext db, string tenant, string? authToken, IReadOnlyList<string>? userGroupIds, CancellationToken ct)
    {
        if (userGroupIds is not { Count: > 0 })
            return (null, null);
        if (userGroupIds.Count > 1)
            return (null, Problems.Invalid("userGroupIds", "A replication group uses at most one user group."));
        if (authToken is not null)
            return (null, Problems.Invalid("userGroupIds", "A replication group has an auth token or a user group, not both.", ErrorCodes.InvalidParameterCombination));
        return await FindUserGroupAsync(db, tenant, userGroupIds[0], "userGroupIds", ct);
    }

    public static void SetOnCreate(ReplicationGroupEntity group, string? authToken, string? userGroupId, ClientSecrets secrets, DateTimeOffset now)
    {
        group.UserGroupId = userGroupId;
        if (authToken is null)
            return;
        group.AuthTokens = secrets.Protect([authToken]);
        group.AuthTokenHash = Secrets.Hash(authToken);
        group.AuthTokenLastModifiedAt = now;
    }

    /// <summary>
    /// Applies the access fields of a PATCH to the group: the names of what changed (for the event and
    /// the no-op check; never a secret), or the problem, with nothing changed.
    /// </summary>
    public static async Task<(IReadOnlyDictionary<string, object?> Changes, IResult? Problem)> PatchAsync(
        ControlPlaneDbContext db, ReplicationGroupEntity group, IReadOnlySet<string> fields, ReplicationGroupPatch patch, ClientSecrets secrets,
        DateTimeOffset now, CancellationToken ct)
    {
        var changes = new Dictionary<string, object?>();
        var strategy = patch.AuthTokenUpdateStrategy;
        var adding = patch.UserGroupIdsToAdd ?? [];
        var removing = patch.UserGroupIdsToRemove ?? [];
        if (fields.Contains("authToken") && strategy is null)
            return (changes, Problems.Invalid("authTokenUpdateStrategy", "authTokenUpdateStrategy (rotate, set or delete) is required with authToken.", ErrorCodes.InvalidParameterCombination));
        if (strategy is not null && group.UserGroupId is not null && removing.Count == 0)
            return (changes, Problems.Invalid("authToken", "The group uses a user group; remove it (userGroupIdsToRemove) to use an auth token.", ErrorCodes.InvalidParameterCombination));
        if (strategy is AuthTokenUpdateStrategy.Rotate or AuthTokenUpdateStrategy.Set && patch.AuthToken is null)
            return (changes, Problems.Invalid("authToken", $"authToken is required with authTokenUpdateStrategy {Text(strategy.Value)}."));
        if (adding.Count > 1 || (adding.Count == 1 && group.UserGroupId is not null && removing.Count == 0))
            return (changes, Problems.Invalid("userGroupIdsToAdd", "A replication group uses at most one user group."));
        if (adding.Count > 0 && group.AuthTokens is not null && strategy != AuthTokenUpdateStrategy.Delete)
            return (changes, Problems.Invalid("userGroupIdsToAdd",
                "The group has an auth token: move to a user group with authTokenUpdateStrategy delete and userGroupIdsToAdd together.", ErrorCodes.InvalidParameterCombination));
        if (adding.Count > 0 && strategy is AuthTokenUpdateStrategy.Rotate or AuthTokenUpdateStrategy.Set)
            return (changes, Problems.Invalid("userGroupIdsToAdd", "A replication group has an auth token or a user group, not both.", ErrorCodes.InvalidParameterCombination));

        var tokens = secrets.Unprotect(group.AuthTokens);
        IReadOnlyList<string?>? nextTokens = null;
        switch (strategy)
        {
            case AuthTokenUpdateStrategy.Rotate:
                // Both are accepted until the next set; from an open group "no password" is the old one.
                nextTokens = [patch.AuthToken, tokens.Count > 0 ? tokens[0] : null];
                break;
            case AuthTokenUpdateStrategy.Set:
                if (tokens.Count < 2)
                    return (changes, Problems.Invalid("authTokenUpdateStrategy",
                        "set replaces the tokens a rotation left (the old and the new) with one; rotate to the new token first.", ErrorCodes.InvalidParameterCombination));
                nextTokens = [patch.AuthToken];
                break;
            case AuthTokenUpdateStrategy.Delete:
                if (tokens.Count == 0)
                    return (changes, Problems.Invalid("authTokenUpdateStrategy", "The group has no auth token to delete.", ErrorCodes.InvalidParameterCombination));
                if (adding.Count == 0)
                    return (changes, Problems.Invalid("authTokenUpdateStrategy",
                        "An auth token is only deleted when the group moves to a user group: give userGroupIdsToAdd with it.", ErrorCodes.InvalidParameterCombination));
                nextTokens = [];
                break;
        }

        string? nextUserGroup = group.UserGroupId;
        if (removing.Count > 0)
        {
            if (removing.Count > 1 || group.UserGroupId is null || TenantNames.Internal(group.Tenant, Identifiers.Normalize(removing[0] ?? "")) != group.UserGroupId)
                return (changes, Problems.Invalid("userGroupIdsToRemove", "userGroupIdsToRemove must name the user group the replication group uses."));
            nextUserGroup = null;
        }
        if (adding.Count == 1)
        {
            var (found, problem) = await FindUserGroupAsync(db, group.Tenant, adding[0], "userGroupIdsToAdd", ct);
            if (problem is not null)
                return (changes, problem);
            nextUserGroup = found;
        }

        if (nextTokens is not null)
        {
            group.AuthTokens = nextTokens.Count == 0 ? null : secrets.Protect(nextTokens);
            group.AuthTokenHash = nextTokens.Count == 0 ? null : Secrets.Hash(nextTokens[0]!);
            group.AuthTokenLastModifiedAt = now;
            changes["authTokenUpdateStrategy"] = Text(strategy!.Value);
        }
        if (nextUserGroup != group.UserGroupId)
        {
            group.UserGroupId = nextUserGroup;
            group.ClientAccessApplied = null;
            changes["userGroupIds"] = nextUserGroup is null ? Array.Empty<string>() : [TenantNames.Public(nextUserGroup)];
        }
        return (changes, null);
    }

    private static async Task<(string? UserGroupId, IResult? Problem)> FindUserGroupAsync(
        ControlPlaneDbContext db, string tenant, string? publicId, string field, CancellationToken ct)
    {
        var id = Identifiers.Normalize(publicId ?? "");
        if (ClientAccessRules.CheckUserGroupId(id) is { } error)
            return (null, Problems.Invalid(field, error));
        var stored = TenantNames.Internal(tenant, id);
        return await db.UserGroups.AnyAsync(g => g.Id == stored, ct)
            ? (stored, null)
            : (null, Problems.NotFound(ErrorCodes.UserGroupNotFound, $"User group {id} does not exist."));
    }

    private static string Text(AuthTokenUpdateStrategy strategy) => JsonBodies.EnumText(strategy);
}
