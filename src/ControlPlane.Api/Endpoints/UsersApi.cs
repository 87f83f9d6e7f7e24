using ControlPlane.Api.Contracts;
using ControlPlane.Api.Data;
using ControlPlane.Api.Engines;
using ControlPlane.Api.Http;
using ControlPlane.Api.Security;
using ControlPlane.Domain;
using Microsoft.EntityFrameworkCore;

namespace ControlPlane.Api.Endpoints;

/// <summary>
/// RBAC users and user groups (ElastiCache's CreateUser / CreateUserGroup and friends). They belong
/// to the caller's tenant like replication groups. A change is applied by the reconciler to every
/// node of every replication group using the user group, within seconds; until then the user and
/// its groups are modifying, and so are those replication groups (<see cref="OnlineChanges"/>).
/// </summary>
public static class UsersApi
{
    private static readonly HashSet<string> UserPatchable = ["passwords", "accessString", "noPasswordRequired"];
    private static readonly HashSet<string> UserCreateOnly = ["userId", "userName", "engine", "status", "authentication", "userGroupIds", "tenant"];
    private static readonly HashSet<string> GroupPatchable = ["userIdsToAdd", "userIdsToRemove"];
    private static readonly HashSet<string> GroupCreateOnly = ["userGroupId", "engine", "userIds", "status", "replicationGroups", "tenant"];

    public static IEndpointRouteBuilder MapUsers(this IEndpointRouteBuilder app)
    {
        var users = app.MapGroup("/v1/users").WithTags("Users and user groups");
        users.MapPost("/", CreateUser).WithName("CreateUser").WithSummary("Create an RBAC user with its access string")
            .Produces<UserResponse>(StatusCodes.Status201Created).ProducesProblem(400).ProducesProblem(409).ProducesProblem(503);
        users.MapGet("/", ListUsers).WithName("ListUsers").WithSummary("List the tenant's users");
        users.MapGet("/{userId}", GetUser).WithName("GetUser").WithSummary("Describe a user (never its passwords)")
            .Produces<UserResponse>().ProducesProblem(404);
        users.MapPatch("/{userId}", ModifyUser).WithName("ModifyUser").WithSummary("Change a user's passwords or access string, online on every group using it")
            .Produces<UserResponse>(StatusCodes.Status202Accepted).Accepts<UserPatch>("application/merge-patch+json", "application/json")
            .ProducesProblem(400).ProducesProblem(404).ProducesProblem(409).ProducesProblem(503);
        users.MapDelete("/{userId}", DeleteUser).WithName("DeleteUser").WithSummary("Delete a user that no user group holds")
            .Produces(StatusCodes.Status204NoContent).ProducesProblem(404).ProducesProblem(409).ProducesProblem(503);

        var groups = app.MapGroup("/v1/user-groups").WithTags("Users and user groups");
        groups.MapPost("/", CreateGroup).WithName("CreateUserGroup").WithSummary("Create a user group; one of its users must be named default")
            .Produces<UserGroupResponse>(StatusCodes.Status201Created).ProducesProblem(400).ProducesProblem(404).ProducesProblem(409).ProducesProblem(503);
        groups.MapGet("/", ListGroups).WithName("ListUserGroups").WithSummary("List the tenant's user groups");
        groups.MapGet("/{userGroupId}", GetGroup).WithName("GetUserGroup").WithSummary("Describe a user group")
            .Produces<UserGroupResponse>().ProducesProblem(404);
        groups.MapPatch("/{userGroupId}", ModifyGroup).WithName("ModifyUserGroup").WithSummary("Add or remove users, online on every group using it")
            .Produces<UserGroupResponse>(StatusCodes.Status202Accepted).Accepts<UserGroupPatch>("application/merge-patch+json", "application/json")
            .ProducesProblem(400).ProducesProblem(404).ProducesProblem(409).ProducesProblem(503);
        groups.MapDelete("/{userGroupId}", DeleteGroup).WithName("DeleteUserGroup").WithSummary("Delete a user group no replication group uses")
            .Produces(StatusCodes.Status204NoContent).ProducesProblem(404).ProducesProblem(409).ProducesProblem(503);
        return app;
    }

    private static async Task<IResult> CreateUser(CreateUserRequest request, HttpContext http, ControlPlaneDbContext db, Caller caller,
        ClientSecrets secrets, IRedisAdmin redis, TimeProvider time, CancellationToken ct)
    {
        var (tenant, wrongTenant) = caller.ForCreate(request.Tenant);
        if (wrongTenant is not null)
            return wrongTenant;
        var userId = Identifiers.Normalize(request.UserId ?? "");
        var engine = request.Engine ?? Catalog.Redis;
        var noPassword = request.NoPasswordRequired ?? false;
        if (ClientAccessRules.ValidateUser(userId, request.UserName, engine, request.Passwords, noPassword, request.AccessString) is { Count: > 0 } errors)
            return Problems.Validation(errors);
        if (await CheckWithEngineAsync(db, redis, engine, request.AccessString!, ct) is { } refused)
            return refused;
        var stored = TenantNames.Internal(tenant, userId);
        if (await db.Users.AnyAsync(u => u.Id == stored, ct))
            return Problems.Conflict(ErrorCodes.UserAlreadyExists, $"User {userId} already exists.");
        var now = time.GetUtcNow();
        var user = new UserEntity
        {
            Id = stored, Tenant = tenant, UserName = request.UserName, Engine = engine, AccessString = request.AccessString!,
            NoPasswordRequired = noPassword, Passwords = noPassword ? null : secrets.Protect(request.Passwords!),
            PasswordCount = noPassword ? 0 : request.Passwords!.Count, CreatedAt = now, UpdatedAt = now,
        };
        db.Users.Add(user);
        db.Record(time, SourceType.User, stored, $"User {stored} created");
        if (await CreatedAsync(db, http, ErrorCodes.UserAlreadyExists, $"User {userId} already exists.", ct) is { } conflict)
            return conflict;
        var body = await ToResponseAsync(db, user, ct);
        ETags.Set(http.Response, body.Etag);
        return TypedResults.Created($"/v1/users/{userId}", body);
    }

    private static async Task<IResult> ListUsers(ControlPlaneDbContext db, Caller caller, CancellationToken ct)
    {
        var tenant = caller.Tenant;
        var users = await db.Users.AsNoTracking().Where(u => u.Tenant == tenant).OrderBy(u => u.Id).ToListAsync(ct);
        var items = new List<UserResponse>();
        foreach (var user in users)
            items.Add(await ToResponseAsync(db, user, ct));
        return TypedResults.Ok(new Page<UserResponse>(items, null));
    }

    private static async Task<IResult> GetUser(string userId, ControlPlaneDbContext db, Caller caller, CancellationToken ct) =>
        await FindUserAsync(db, caller, userId, ct) is { } user ? TypedResults.Ok(await ToResponseAsync(db, user, ct)) : UserNotFound(userId);

    private static async Task<IResult> ModifyUser(string userId, HttpContext http, ControlPlaneDbContext db, Caller caller, JsonBodies bodies,
        ClientSecrets secrets, IRedisAdmin redis, TimeProvider time, CancellationToken ct)
    {
        var (fields, patch, bad) = await bodies.ReadPatchAsync<UserPatch>(http.Request, UserPatchable, UserCreateOnly, new HashSet<string>(), ct);
        if (bad is not null)
            return bad;
        var user = await FindUserAsync(db, caller, userId, ct);
        if (user is null)
            return UserNotFound(userId);
        if (Store.CheckIfMatch(http.Request, user.Version) is { } stale)
            return stale;
        var noPassword = patch!.NoPasswordRequired ?? (patch.Passwords is { Count: > 0 } ? false : user.NoPasswordRequired);
        var accessString = patch.AccessString ?? user.AccessString;
        var errors = new List<Violation>();
        // The passwords stay unless new ones are given (or noPasswordRequired drops them).
        if (fields.Contains("passwords") || (fields.Contains("noPasswordRequired") && !noPassword && user.NoPasswordRequired))
            ClientAccessRules.CheckPasswords(patch.Passwords, noPassword, errors);
        if (fields.Contains("accessString") && ClientAccessRules.CheckAccessString(accessString, user.Engine) is { } accessError)
            errors.Add(new(ErrorCodes.InvalidParameterValue, "accessString", accessError));
        if (errors.Count > 0)
            return Problems.Validation(errors);
        if (fields.Contains("accessString") && await CheckWithEngineAsync(db, redis, user.Engine, accessString, ct) is { } refused)
            return refused;
        user.AccessString = accessString;
        if (noPassword)
            (user.NoPasswordRequired, user.Passwords, user.PasswordCount) = (true, null, 0);
        else if (patch.Passwords is { Count: > 0 } passwords)
            (user.NoPasswordRequired, user.Passwords, user.PasswordCount) = (false, secrets.Protect(passwords), passwords.Count);
        user.UpdatedAt = time.GetUtcNow();
        // Every user group holding the user is one revision further: its replication groups are modifying until their nodes have it.
        var holders = await db.UserGroups.Where(g => g.UserIds.Contains(user.Id)).ToListAsync(ct);
        foreach (var group in holders)
        {
            group.Revision++;
            group.UpdatedAt = user.UpdatedAt;
        }
        await using var tx = await db.Database.BeginTransactionAsync(ct);
        await OnlineChanges.MarkUsersOfAsync(db, holders.Select(g => g.Id).ToList(), time, ct);
        db.Record(time, SourceType.User, user.Id, $"User {user.Id} modified: {string.Join(", ", fields.Order())}");
        return await SaveAsync(db, http, user.Version, ErrorCodes.InvalidUserState, () => ToResponseAsync(db, user, ct), ct);
    }

    private static async Task<IResult> DeleteUser(string userId, HttpContext http, ControlPlaneDbContext db, Caller caller, TimeProvider time, CancellationToken ct)
    {
        var user = await FindUserAsync(db, caller, userId, ct);
        if (user is null)
            return UserNotFound(userId);
        var holders = await db.UserGroups.AsNoTracking().Where(g => g.UserIds.Contains(user.Id)).Select(g => g.Id).ToListAsync(ct);
        if (holders.Count > 0)
            return Problems.Conflict(ErrorCodes.InvalidUserState,
                $"User {TenantNames.Public(user.Id)} is in user group(s) {string.Join(", ", holders.Select(TenantNames.Public))}; remove it from them first.");
        db.Users.Remove(user);
        db.Record(time, SourceType.User, user.Id, $"User {user.Id} deleted");
        return await SaveAsync(db, http, user.Version, ErrorCodes.InvalidUserState, () => Task.FromResult<object?>(null), ct);
    }

    private static async Task<IResult> CreateGroup(CreateUserGroupRequest request, HttpContext http, ControlPlaneDbContext db, Caller caller, TimeProvider time, CancellationToken ct)
    {
        var (tenant, wrongTenant) = caller.ForCreate(request.Tenant);
        if (wrongTenant is not null)
            return wrongTenant;
        var id = Identifiers.Normalize(request.UserGroupId ?? "");
        var engine = request.Engine ?? Catalog.Redis;
        var errors = new List<Violation>();
        if (ClientAccessRules.CheckUserGroupId(id) is { } idError)
            errors.Add(new(ErrorCodes.InvalidParameterValue, "userGroupId", idError));
        if (!Catalog.IsRedisLike(engine))
            errors.Add(new(ErrorCodes.InvalidParameterValue, "engine", $"A user group is for {Catalog.Redis} or {Catalog.Valkey}."));
        if (errors.Count > 0)
            return Problems.Validation(errors);
        var (members, badMembers) = await MembersAsync(db, tenant, request.UserIds ?? [], "userIds", ct);
        if (badMembers is not null)
            return badMembers;
        var stored = TenantNames.Internal(tenant, id);
        if (await db.UserGroups.AnyAsync(g => g.Id == stored, ct))
            return Problems.Conflict(ErrorCodes.UserGroupAlreadyExists, $"User group {id} already exists.");
        var now = time.GetUtcNow();
        var group = new UserGroupEntity { Id = stored, Tenant = tenant, Engine = engine, UserIds = members!, Revision = 1, CreatedAt = now, UpdatedAt = now };
        db.UserGroups.Add(group);
        db.Record(time, SourceType.UserGroup, stored, $"User group {stored} created with users {string.Join(", ", members!)}");
        if (await CreatedAsync(db, http, ErrorCodes.UserGroupAlreadyExists, $"User group {id} already exists.", ct) is { } conflict)
            return conflict;
        var body = await ToResponseAsync(db, group, ct);
        ETags.Set(http.Response, body.Etag);
        return TypedResults.Created($"/v1/user-groups/{id}", body);
    }

    private static async Task<IResult> ListGroups(ControlPlaneDbContext db, Caller caller, CancellationToken ct)
    {
        var tenant = caller.Tenant;
        var groups = await db.UserGroups.AsNoTracking().Where(g => g.Tenant == tenant).OrderBy(g => g.Id).ToListAsync(ct);
        var items = new List<UserGroupResponse>();
        foreach (var group in groups)
            items.Add(await ToResponseAsync(db, group, ct));
        return TypedResults.Ok(new Page<UserGroupResponse>(items, null));
    }

    private static async Task<IResult> GetGroup(string userGroupId, ControlPlaneDbContext db, Caller caller, CancellationToken ct) =>
        await FindGroupAsync(db, caller, userGroupId, ct) is { } group ? TypedResults.Ok(await ToResponseAsync(db, group, ct)) : UserGroupNotFound(userGroupId);

    private static async Task<IResult> ModifyGroup(string userGroupId, HttpContext http, ControlPlaneDbContext db, Caller caller, JsonBodies bodies,
        TimeProvider time, CancellationToken ct)
    {
        var (_, patch, bad) = await bodies.ReadPatchAsync<UserGroupPatch>(http.Request, GroupPatchable, GroupCreateOnly, new HashSet<string>(), ct);
        if (bad is not null)
            return bad;
        var group = await FindGroupAsync(db, caller, userGroupId, ct);
        if (group is null)
            return UserGroupNotFound(userGroupId);
        if (Store.CheckIfMatch(http.Request, group.Version) is { } stale)
            return stale;
        var toAdd = (patch!.UserIdsToAdd ?? []).Select(u => TenantNames.Internal(group.Tenant, Identifiers.Normalize(u ?? ""))).ToList();
        var toRemove = (patch.UserIdsToRemove ?? []).Select(u => TenantNames.Internal(group.Tenant, Identifiers.Normalize(u ?? ""))).ToList();
        if (toRemove.FirstOrDefault(u => !group.UserIds.Contains(u)) is { } notMember)
            return Problems.Invalid("userIdsToRemove", $"User {TenantNames.Public(notMember)} is not in user group {TenantNames.Public(group.Id)}.");
        if (toAdd.FirstOrDefault(group.UserIds.Contains) is { } member)
            return Problems.Invalid("userIdsToAdd", $"User {TenantNames.Public(member)} is already in user group {TenantNames.Public(group.Id)}.");
        var next = group.UserIds.Except(toRemove).Concat(toAdd).Select(TenantNames.Public).ToList();
        var (members, badMembers) = await MembersAsync(db, group.Tenant, next, toAdd.Count > 0 ? "userIdsToAdd" : "userIdsToRemove", ct);
        if (badMembers is not null)
            return badMembers;
        if (members!.Order().SequenceEqual(group.UserIds.Order()))
            return Problems.NoOperation("The modification changes nothing.");
        group.UserIds = members!;
        group.Revision++;
        group.UpdatedAt = time.GetUtcNow();
        await using var tx = await db.Database.BeginTransactionAsync(ct);
        await OnlineChanges.MarkUsersOfAsync(db, [group.Id], time, ct);
        db.Record(time, SourceType.UserGroup, group.Id, $"User group {group.Id} modified: users {string.Join(", ", members!)}");
        return await SaveAsync(db, http, group.Version, ErrorCodes.InvalidUserGroupState, () => ToResponseAsync(db, group, ct), ct);
    }

    private static async Task<IResult> DeleteGroup(string userGroupId, HttpContext http, ControlPlaneDbContext db, Caller caller, TimeProvider time, CancellationToken ct)
    {
        var group = await FindGroupAsync(db, caller, userGroupId, ct);
        if (group is null)
            return UserGroupNotFound(userGroupId);
        var users = await db.ReplicationGroups.AsNoTracking().Where(g => g.UserGroupId == group.Id).Select(g => g.Id).ToListAsync(ct);
        if (users.Count > 0)
            return Problems.Conflict(ErrorCodes.InvalidUserGroupState,
                $"User group {TenantNames.Public(group.Id)} is used by replication group(s) {string.Join(", ", users.Select(TenantNames.Public))}.");
        db.UserGroups.Remove(group);
        db.Record(time, SourceType.UserGroup, group.Id, $"User group {group.Id} deleted");
        return await SaveAsync(db, http, group.Version, ErrorCodes.InvalidUserGroupState, () => Task.FromResult<object?>(null), ct);
    }

    /// <summary>The stored ids of the users named, all of the tenant, one of them named default and no name twice; or the problem.</summary>
    private static async Task<(List<string>? Members, IResult? Problem)> MembersAsync(ControlPlaneDbContext db, string tenant, IReadOnlyList<string> userIds,
        string field, CancellationToken ct)
    {
        var ids = userIds.Select(u => TenantNames.Internal(tenant, Identifiers.Normalize(u ?? ""))).Distinct().ToList();
        var users = await db.Users.AsNoTracking().Where(u => ids.Contains(u.Id)).ToListAsync(ct);
        if (ids.FirstOrDefault(id => users.All(u => u.Id != id)) is { } missing)
            return (null, Problems.NotFound(ErrorCodes.UserNotFound, $"User {TenantNames.Public(missing)} does not exist."));
        if (users.GroupBy(u => u.UserName).FirstOrDefault(g => g.Count() > 1) is { } twice)
            return (null, Problems.Invalid(field, $"Users {string.Join(", ", twice.Select(u => TenantNames.Public(u.Id)))} are both named {twice.Key}; a user group holds one user of a name."));
        if (users.All(u => u.UserName != ClientAccessRules.DefaultUserName))
            return (null, Problems.Invalid(field, $"A user group must hold a user whose userName is {ClientAccessRules.DefaultUserName}."));
        return (ids, null);
    }

    /// <summary>
    /// The engine's own verdict on an access string, from the first node of that engine that answers
    /// (ACL SETUSER of a scratch user, deleted at once): a second opinion after ClientAccessRules, which already
    /// refused the names the engine does not know. With no node to ask, that check alone decides.
    /// </summary>
    private static async Task<IResult?> CheckWithEngineAsync(ControlPlaneDbContext db, IRedisAdmin redis, string engine, string accessString, CancellationToken ct)
    {
        var nodes = await db.RedisNodes.AsNoTracking()
            .Where(n => n.Status == NodeStatus.Available && n.Host != null && n.Port != null && n.Engine == engine)
            .OrderBy(n => n.Id).Select(n => new { n.Host, n.Port }).Take(3).ToListAsync(ct);
        foreach (var node in nodes)
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
            timeout.CancelAfter(TimeSpan.FromSeconds(2));
            try
            {
                return await redis.CheckAccessStringAsync(node.Host!, node.Port!.Value, ClientAccessRules.Rules(accessString), timeout.Token) is { } error
                    ? Problems.Invalid("accessString", $"The engine refuses the access string: {error}")
                    : null;
            }
            catch (Exception e) when (e is StackExchange.Redis.RedisException or TimeoutException or OperationCanceledException && !ct.IsCancellationRequested)
            {
                // That node is busy or going away: ask the next.
            }
        }
        return null;
    }

    /// <summary>A create saved with its event signed by the key that asked (<see cref="Store"/>); the conflict when another request made the same id meanwhile.</summary>
    private static async Task<IResult?> CreatedAsync(ControlPlaneDbContext db, HttpContext http, string conflictCode, string conflictDetail, CancellationToken ct)
    {
        try
        {
            var saved = await Store.SaveAsync(db, http, 0, conflictCode, () => "saved", _ => "", ct);
            return saved as Microsoft.AspNetCore.Http.HttpResults.ProblemHttpResult;
        }
        catch (DbUpdateException e) when (e.InnerException is Npgsql.PostgresException { SqlState: Npgsql.PostgresErrorCodes.UniqueViolation })
        {
            return Problems.Conflict(conflictCode, conflictDetail);
        }
    }

    /// <summary>Saved and the reconcilers woken (<see cref="Store"/>); 202 with the representation read after the save, 204 for a deletion.</summary>
    private static async Task<IResult> SaveAsync<T>(ControlPlaneDbContext db, HttpContext http, uint version, string stateCode, Func<Task<T>> respond, CancellationToken ct)
    {
        var saved = await Store.SaveAsync(db, http, version, stateCode, () => "saved", _ => "", ct);
        if (saved is Microsoft.AspNetCore.Http.HttpResults.ProblemHttpResult)
            return saved;
        if (await respond() is not { } body)
        {
            http.Response.Headers.Remove("ETag");
            return TypedResults.NoContent();
        }
        if (body is UserResponse user)
            ETags.Set(http.Response, user.Etag);
        else if (body is UserGroupResponse group)
            ETags.Set(http.Response, group.Etag);
        return TypedResults.Accepted((string?)null, body);
    }

    private static Task<UserEntity?> FindUserAsync(ControlPlaneDbContext db, Caller caller, string userId, CancellationToken ct)
    {
        var stored = caller.Internal(Identifiers.Normalize(userId));
        return db.Users.FirstOrDefaultAsync(u => u.Id == stored, ct);
    }

    private static Task<UserGroupEntity?> FindGroupAsync(ControlPlaneDbContext db, Caller caller, string userGroupId, CancellationToken ct)
    {
        var stored = caller.Internal(Identifiers.Normalize(userGroupId));
        return db.UserGroups.FirstOrDefaultAsync(g => g.Id == stored, ct);
    }

    /// <summary>Modifying while a replication group using it does not hold its current revision on every node yet.</summary>
    private static async Task<IReadOnlyList<(string Id, bool InStep)>> UsesAsync(ControlPlaneDbContext db, UserGroupEntity group, CancellationToken ct) =>
        (await db.ReplicationGroups.AsNoTracking().Where(g => g.UserGroupId == group.Id && g.Status != GroupStatus.Deleting)
            .Select(g => new { g.Id, g.ClientAccessApplied }).ToListAsync(ct))
        .Select(g => (g.Id, g.ClientAccessApplied == group.AppliedMark)).ToList();

    private static async Task<UserGroupResponse> ToResponseAsync(ControlPlaneDbContext db, UserGroupEntity group, CancellationToken ct)
    {
        var uses = await UsesAsync(db, group, ct);
        return new UserGroupResponse(TenantNames.Public(group.Id), group.Engine, uses.All(u => u.InStep) ? "active" : "modifying",
            group.UserIds.Select(TenantNames.Public).Order().ToList(), uses.Select(u => TenantNames.Public(u.Id)).Order().ToList(),
            group.CreatedAt, group.UpdatedAt, ETags.Format(group.Version));
    }

    private static async Task<UserResponse> ToResponseAsync(ControlPlaneDbContext db, UserEntity user, CancellationToken ct)
    {
        var groups = await db.UserGroups.AsNoTracking().Where(g => g.UserIds.Contains(user.Id)).ToListAsync(ct);
        var modifying = false;
        foreach (var group in groups)
            modifying |= (await UsesAsync(db, group, ct)).Any(u => !u.InStep);
        return new UserResponse(TenantNames.Public(user.Id), user.UserName, user.Engine, modifying ? "modifying" : "active", user.AccessString,
            new UserAuthentication(user.NoPasswordRequired ? "no-password" : "password", user.PasswordCount),
            groups.Select(g => TenantNames.Public(g.Id)).Order().ToList(), user.CreatedAt, user.UpdatedAt, ETags.Format(user.Version));
    }

    private static IResult UserNotFound(string userId) => Problems.NotFound(ErrorCodes.UserNotFound, $"User {Identifiers.Normalize(userId)} does not exist.");

    private static IResult UserGroupNotFound(string id) => Problems.NotFound(ErrorCodes.UserGroupNotFound, $"User group {Identifiers.Normalize(id)} does not exist.");
}
