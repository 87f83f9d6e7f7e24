namespace ControlPlane.Api.Contracts;

/// <summary>Body of POST /v1/users: 1-2 passwords, or noPasswordRequired.</summary>
public sealed record CreateUserRequest(
    string UserId,
    string UserName,
    string? Engine = null,
    IReadOnlyList<string>? Passwords = null,
    bool? NoPasswordRequired = null,
    string? AccessString = null,
    string? Tenant = null);

/// <summary>Body of PATCH /v1/users/{userId}: only the fields present change.</summary>
public sealed record UserPatch(IReadOnlyList<string>? Passwords = null, string? AccessString = null, bool? NoPasswordRequired = null);

/// <summary>type: password or no-password; the passwords themselves are never returned.</summary>
public sealed record UserAuthentication(string Type, int PasswordCount);

/// <summary>status: active, or modifying until every node of every group using it holds the change.</summary>
public sealed record UserResponse(
    string UserId, string UserName, string Engine, string Status, string AccessString, UserAuthentication Authentication,
    IReadOnlyList<string> UserGroupIds, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt, string Etag);

/// <summary>Body of POST /v1/user-groups: one of the users must be named default.</summary>
public sealed record CreateUserGroupRequest(string UserGroupId, string? Engine = null, IReadOnlyList<string>? UserIds = null, string? Tenant = null);

/// <summary>Body of PATCH /v1/user-groups/{userGroupId}.</summary>
public sealed record UserGroupPatch(IReadOnlyList<string>? UserIdsToAdd = null, IReadOnlyList<string>? UserIdsToRemove = null);

/// <summary>status: active, or modifying until every node of every replication group using it holds its users.</summary>
public sealed record UserGroupResponse(
    string UserGroupId, string Engine, string Status, IReadOnlyList<string> UserIds, IReadOnlyList<string> ReplicationGroups,
    DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt, string Etag);
