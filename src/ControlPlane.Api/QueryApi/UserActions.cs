using System.Text.Json.Nodes;
using System.Xml.Linq;
using static ControlPlane.Api.QueryApi.QueryXml;

namespace ControlPlane.Api.QueryApi;

/// <summary>RBAC users and user groups (/v1/users, /v1/user-groups) in ElastiCache's shapes.</summary>
public sealed partial class QueryActions
{
    private const string Users = "users";
    private const string UserGroups = "user-groups";

    private XElement User(JsonNode u, string? status = null) => Struct("member",
        E("UserId", u["userId"]),
        E("UserName", u["userName"]),
        E("Status", status ?? (string?)u["status"]),
        E("Engine", u["engine"]),
        E("MinimumEngineVersion", "6.0"),
        E("AccessString", u["accessString"]),
        List("UserGroupIds", "member", u["userGroupIds"]!.AsArray().Select(g => (object?)(string?)g)),
        Struct("Authentication",
            E("Type", (string?)u["authentication"]!["type"] == "no-password" ? "no-password" : "password"),
            E("PasswordCount", u["authentication"]!["passwordCount"])),
        E("ARN", shapes.Arn("user", (string)u["userId"]!)));

    private XElement UserGroup(JsonNode g, string? status = null, string name = "member") => Struct(name,
        E("UserGroupId", g["userGroupId"]),
        E("Status", status ?? (string?)g["status"]),
        E("Engine", g["engine"]),
        List("UserIds", "member", g["userIds"]!.AsArray().Select(u => (object?)(string?)u)),
        E("MinimumEngineVersion", "6.0"),
        List("ReplicationGroups", "member", g["replicationGroups"]!.AsArray().Select(r => (object?)(string?)r)),
        E("ARN", shapes.Arn("usergroup", (string)g["userGroupId"]!)));

    /// <summary>The result of a single-user action is the user's fields themselves, not a member of a list.</summary>
    private static IEnumerable<XElement?> Fields(XElement item) => item.Elements();

    private async Task<IEnumerable<XElement?>> CreateUser()
    {
        var body = new JsonObject
        {
            ["userId"] = p.Required("UserId"),
            ["userName"] = p.Required("UserName"),
            ["engine"] = p.Required("Engine").ToLowerInvariant(),
            ["accessString"] = p.Required("AccessString"),
        };
        Passwords(body);
        if (p.Structures("Tags").Count > 0)
            throw QueryFault.NotBuilt("Tags on users");
        p.RefuseUnread();
        return Fields(User(await Call(HttpMethods.Post, $"/v1/{Users}", body)));
    }

    /// <summary>Passwords.member.N, NoPasswordRequired, or AuthenticationMode (password / no-password-required; IAM is not built).</summary>
    private void Passwords(JsonObject body)
    {
        var passwords = p.List("Passwords");
        var mode = p.Get("AuthenticationMode.Type");
        passwords.AddRange(p.List("AuthenticationMode.Passwords"));
        if (mode is "iam")
            throw QueryFault.NotBuilt("IAM authentication");
        if (passwords.Count > 0)
            body["passwords"] = new JsonArray(passwords.Select(x => (JsonNode?)JsonValue.Create(x)).ToArray());
        if (p.Bool("NoPasswordRequired") is { } none)
            body["noPasswordRequired"] = none;
        else if (mode is "no-password-required")
            body["noPasswordRequired"] = true;
    }

    private async Task<IEnumerable<XElement?>> DescribeUsers()
    {
        var id = p.Get("UserId");
        if (p.Get("Engine") is { } engine && engine.ToLowerInvariant() is not ("redis" or "valkey"))
            throw QueryFault.InvalidParameterValue($"Engine {engine} has no users.");
        var users = id is not null ? [await Get(Path(Users, id))] : await ListAll($"/v1/{Users}");
        var (page, marker) = Paged(users.Select(u => ((string)u["userId"]!, User(u))));
        p.RefuseUnread();
        return [marker, E("Users", page.Select(x => (XElement?)x))];
    }

    private async Task<IEnumerable<XElement?>> ModifyUser()
    {
        var id = p.Required("UserId");
        var patch = new JsonObject();
        Copy("AccessString", patch, "accessString");
        if (p.Get("AppendAccessString") is { } append)
            patch["accessString"] = $"{(string?)patch["accessString"] ?? (string?)(await Get(Path(Users, id)))["accessString"]} {append}";
        Passwords(patch);
        p.RefuseUnread();
        return Fields(User(await Call(HttpMethods.Patch, Path(Users, id), patch)));
    }

    private async Task<IEnumerable<XElement?>> DeleteUser()
    {
        var id = p.Required("UserId");
        p.RefuseUnread();
        var user = await Get(Path(Users, id));
        await Call(HttpMethods.Delete, Path(Users, id));
        return Fields(User(user, "deleting"));
    }

    private async Task<IEnumerable<XElement?>> CreateUserGroup()
    {
        var body = new JsonObject
        {
            ["userGroupId"] = p.Required("UserGroupId"),
            ["engine"] = p.Required("Engine").ToLowerInvariant(),
            ["userIds"] = new JsonArray(p.List("UserIds").Select(x => (JsonNode?)JsonValue.Create(x)).ToArray()),
        };
        if (p.Structures("Tags").Count > 0)
            throw QueryFault.NotBuilt("Tags on user groups");
        p.RefuseUnread();
        return Fields(UserGroup(await Call(HttpMethods.Post, $"/v1/{UserGroups}", body)));
    }

    private async Task<IEnumerable<XElement?>> DescribeUserGroups()
    {
        var id = p.Get("UserGroupId");
        var groups = id is not null ? [await Get(Path(UserGroups, id))] : await ListAll($"/v1/{UserGroups}");
        var (page, marker) = Paged(groups.Select(g => ((string)g["userGroupId"]!, UserGroup(g))));
        p.RefuseUnread();
        return [marker, E("UserGroups", page.Select(x => (XElement?)x))];
    }

    private async Task<IEnumerable<XElement?>> ModifyUserGroup()
    {
        var id = p.Required("UserGroupId");
        var patch = new JsonObject();
        if (p.List("UserIdsToAdd") is { Count: > 0 } add)
            patch["userIdsToAdd"] = new JsonArray(add.Select(x => (JsonNode?)JsonValue.Create(x)).ToArray());
        if (p.List("UserIdsToRemove") is { Count: > 0 } remove)
            patch["userIdsToRemove"] = new JsonArray(remove.Select(x => (JsonNode?)JsonValue.Create(x)).ToArray());
        p.RefuseUnread();
        return Fields(UserGroup(await Call(HttpMethods.Patch, Path(UserGroups, id), patch)));
    }

    private async Task<IEnumerable<XElement?>> DeleteUserGroup()
    {
        var id = p.Required("UserGroupId");
        p.RefuseUnread();
        var group = await Get(Path(UserGroups, id));
        await Call(HttpMethods.Delete, Path(UserGroups, id));
        return Fields(UserGroup(group, "deleting"));
    }
}
