using System.Net;
using System.Text.Json.Nodes;
using ControlPlane.Api.Tests.Infrastructure;
using ControlPlane.Domain;
using Microsoft.EntityFrameworkCore;

namespace ControlPlane.Api.Tests.Security;

/// <summary>
/// Users, user groups and auth tokens through the API, without nodes (the reconciler is off): what
/// is refused, what is stored (never a secret in plain text), what a representation shows, and
/// which tenant sees what. What the nodes then do is <see cref="ClientAccessTests"/>'.
/// </summary>
public sealed class UsersApiTests(PostgresFixture postgres) : ApiTest(postgres)
{
    private const string Password = "app-password-0123456789";

    public static TheoryData<string, string, object, string, string> BadUsers => new()
    {
        { "user id with two hyphens", "userId", new { userId = "a--b", userName = "a", passwords = new[] { Password }, accessString = "on ~* +@all" }, ErrorCodes.InvalidParameterValue, "userId" },
        { "user id starting with a digit", "userId", new { userId = "1abc", userName = "a", passwords = new[] { Password }, accessString = "on ~* +@all" }, ErrorCodes.InvalidParameterValue, "userId" },
        { "user name with a space", "un", new { userId = "un", userName = "a b", passwords = new[] { Password }, accessString = "on ~* +@all" }, ErrorCodes.InvalidParameterValue, "userName" },
        { "the control plane's admin name", "adm", new { userId = "adm", userName = "cp-admin", passwords = new[] { Password }, accessString = "on ~* +@all" }, ErrorCodes.InvalidParameterValue, "userName" },
        { "memcached user", "mc", new { userId = "mc", userName = "mc", engine = "memcached", passwords = new[] { Password }, accessString = "on ~* +@all" }, ErrorCodes.InvalidParameterValue, "engine" },
        { "password of 15 characters", "p15", new { userId = "p15", userName = "p15", passwords = new[] { "fifteen-chars-x" }, accessString = "on ~* +@all" }, ErrorCodes.InvalidParameterValue, "passwords" },
        { "password of 129 characters", "p129", new { userId = "p129", userName = "p129", passwords = new[] { new string('p', 129) }, accessString = "on ~* +@all" }, ErrorCodes.InvalidParameterValue, "passwords" },
        { "password with a space", "psp", new { userId = "psp", userName = "psp", passwords = new[] { "sixteen chars xx" }, accessString = "on ~* +@all" }, ErrorCodes.InvalidParameterValue, "passwords" },
        { "three passwords", "p3", new { userId = "p3", userName = "p3", passwords = new[] { Password, Password + "1", Password + "2" }, accessString = "on ~* +@all" }, ErrorCodes.InvalidParameterValue, "passwords" },
        { "no password and not noPasswordRequired", "p0", new { userId = "p0", userName = "p0", accessString = "on ~* +@all" }, ErrorCodes.InvalidParameterValue, "passwords" },
        { "passwords and noPasswordRequired", "pn", new { userId = "pn", userName = "pn", passwords = new[] { Password }, noPasswordRequired = true, accessString = "on ~* +@all" }, ErrorCodes.InvalidParameterCombination, "passwords" },
        { "password inside the access string", "pa", new { userId = "pa", userName = "pa", passwords = new[] { Password }, accessString = "on >sneaky-password ~* +@all" }, ErrorCodes.InvalidParameterValue, "accessString" },
        { "nopass inside the access string", "np", new { userId = "np", userName = "np", passwords = new[] { Password }, accessString = "on nopass ~* +@all" }, ErrorCodes.InvalidParameterValue, "accessString" },
        { "a rule that is none", "nr", new { userId = "nr", userName = "nr", passwords = new[] { Password }, accessString = "on ~* +@all whatever" }, ErrorCodes.InvalidParameterValue, "accessString" },
        { "no access string", "na", new { userId = "na", userName = "na", passwords = new[] { Password } }, ErrorCodes.InvalidParameterValue, "accessString" },
    };

    [Theory]
    [MemberData(nameof(BadUsers))]
    public async Task Bad_users_are_refused_with_the_field_and_nothing_is_stored(string because, string userId, object body, string code, string field)
    {
        await AssertProblemAsync(await PostAsync("/v1/users", body), HttpStatusCode.BadRequest, code, field);
        Assert.Equal(HttpStatusCode.NotFound, (await Client.GetAsync($"/v1/users/{userId}")).StatusCode);
        Assert.True(await CountAsync(db => db.Users) == 0, because);
    }

    [Fact]
    public async Task Users_and_groups_keep_their_rules_and_never_show_a_password()
    {
        var created = await PostAsync("/v1/users", new { userId = "app-reader", userName = "app", passwords = new[] { Password }, accessString = "on ~app:* +@read" });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var text = await created.Content.ReadAsStringAsync();
        Assert.DoesNotContain(Password, text);
        var user = JsonNode.Parse(text)!.AsObject();
        Assert.Equal("active", (string?)user["status"]);
        Assert.Equal("password", (string?)user["authentication"]!["type"]);
        Assert.Equal(1, (int?)user["authentication"]!["passwordCount"]);
        await using (var db = Factory.NewDbContext())
            Assert.DoesNotContain(Password, (await db.Users.SingleAsync()).Passwords!);
        await AssertProblemAsync(await PostAsync("/v1/users", new { userId = "app-reader", userName = "x", noPasswordRequired = true, accessString = "on ~* +@all" }),
            HttpStatusCode.Conflict, ErrorCodes.UserAlreadyExists);

        // A user group without a user named default is refused; with one it is made.
        await AssertProblemAsync(await PostAsync("/v1/user-groups", new { userGroupId = "readers", userIds = new[] { "app-reader" } }),
            HttpStatusCode.BadRequest, ErrorCodes.InvalidParameterValue, "userIds");
        await AssertProblemAsync(await PostAsync("/v1/user-groups", new { userGroupId = "readers", userIds = new[] { "app-reader", "ghost" } }),
            HttpStatusCode.NotFound, ErrorCodes.UserNotFound);
        Assert.Equal(HttpStatusCode.Created, (await PostAsync("/v1/users", new { userId = "locked-default", userName = "default", noPasswordRequired = true, accessString = "off" })).StatusCode);
        Assert.Equal(HttpStatusCode.Created, (await PostAsync("/v1/users", new { userId = "other-default", userName = "default", noPasswordRequired = true, accessString = "off" })).StatusCode);
        await AssertProblemAsync(await PostAsync("/v1/user-groups", new { userGroupId = "readers", userIds = new[] { "app-reader", "locked-default", "other-default" } }),
            HttpStatusCode.BadRequest, ErrorCodes.InvalidParameterValue, "userIds");
        Assert.Equal(0, await CountAsync(db => db.UserGroups));
        var group = await PostAsync("/v1/user-groups", new { userGroupId = "readers", userIds = new[] { "app-reader", "locked-default" } });
        Assert.Equal(HttpStatusCode.Created, group.StatusCode);
        Assert.Equal(["app-reader", "locked-default"], (await BodyAsync(group))["userIds"]!.AsArray().Select(u => (string)u!));

        // Removing the default user, or adding a second one, is refused.
        await AssertProblemAsync(await PatchAsync("/v1/user-groups/readers", new { userIdsToRemove = new[] { "locked-default" } }),
            HttpStatusCode.BadRequest, ErrorCodes.InvalidParameterValue, "userIdsToRemove");
        await AssertProblemAsync(await PatchAsync("/v1/user-groups/readers", new { userIdsToAdd = new[] { "other-default" } }),
            HttpStatusCode.BadRequest, ErrorCodes.InvalidParameterValue, "userIdsToAdd");

        // Used: neither the user nor the group can go.
        await AssertProblemAsync(await Client.DeleteAsync("/v1/users/app-reader"), HttpStatusCode.Conflict, ErrorCodes.InvalidUserState);
        await AssertAcceptedAsync(await PostAsync("/v1/replication-groups", new { id = "rbac", userGroupIds = new[] { "readers" } }));
        var rbac = await BodyAsync(await Client.GetAsync("/v1/replication-groups/rbac"));
        Assert.Equal(["readers"], rbac["userGroupIds"]!.AsArray().Select(u => (string)u!));
        Assert.False((bool)rbac["authTokenEnabled"]!);
        await AssertProblemAsync(await Client.DeleteAsync("/v1/user-groups/readers"), HttpStatusCode.Conflict, ErrorCodes.InvalidUserGroupState);
        // Nothing has applied it yet (no reconciler here): the group and its users say so.
        Assert.Equal("modifying", (string?)(await BodyAsync(await Client.GetAsync("/v1/user-groups/readers")))["status"]);
        Assert.Equal("modifying", (string?)(await BodyAsync(await Client.GetAsync("/v1/users/app-reader")))["status"]);
        Assert.Equal("active", (string?)(await BodyAsync(await Client.GetAsync("/v1/users/other-default")))["status"]);

        // An access string that is refused changes nothing.
        await AssertProblemAsync(await PatchAsync("/v1/users/app-reader", new { accessString = "on ~app:* +@read >pw" }),
            HttpStatusCode.BadRequest, ErrorCodes.InvalidParameterValue, "accessString");
        Assert.Equal("on ~app:* +@read", (string?)(await BodyAsync(await Client.GetAsync("/v1/users/app-reader")))["accessString"]);
        var patched = await AssertAcceptedAsync(await PatchAsync("/v1/users/app-reader", new { accessString = "on ~app:* +@read +@write", passwords = new[] { Password, Password + "-2" } }));
        Assert.Equal(2, (int?)patched["authentication"]!["passwordCount"]);

        // Another tenant sees none of it.
        var stranger = await NewKeyAsync("operator", "stranger");
        Assert.Equal(HttpStatusCode.NotFound, (await SendAsync("GET", "/v1/users/app-reader", (string)stranger["key"]!)).StatusCode);
        Assert.Empty((await BodyAsync(await SendAsync("GET", "/v1/user-groups", (string)stranger["key"]!)))["items"]!.AsArray());
        await AssertProblemAsync(await SendAsync("POST", "/v1/replication-groups", (string)stranger["key"]!, new { id = "theirs", userGroupIds = new[] { "readers" } }),
            HttpStatusCode.NotFound, ErrorCodes.UserGroupNotFound);
    }

    [Fact]
    public async Task Auth_tokens_rotate_set_and_move_to_a_user_group_and_are_stored_encrypted()
    {
        const string first = "first-token-0123456789";
        const string second = "second-token-0123456789";
        var created = await PostAsync("/v1/replication-groups", new { id = "tokened", transitEncryption = true, authToken = first });
        var body = await AssertAcceptedAsync(created);
        Assert.True((bool)body["authTokenEnabled"]!);
        Assert.NotNull(body["authTokenLastModifiedAt"]);
        await MarkAvailableAsync("tokened");
        async Task AssertNoTokenStoredAsync()
        {
            await using var db = Factory.NewDbContext();
            var row = await db.ReplicationGroups.AsNoTracking().SingleAsync(g => g.Id == "tokened");
            foreach (var secret in new[] { first, second })
                Assert.DoesNotContain(secret, $"{row.AuthTokens}|{row.AuthTokenHash}");
        }
        await AssertNoTokenStoredAsync();

        // set needs a rotation before it; delete needs a user group; nothing changes meanwhile.
        var before = await Client.GetStringAsync("/v1/replication-groups/tokened");
        await AssertProblemAsync(await PatchAsync("/v1/replication-groups/tokened", new { authToken = second, authTokenUpdateStrategy = "set" }),
            HttpStatusCode.BadRequest, ErrorCodes.InvalidParameterCombination, "authTokenUpdateStrategy");
        await AssertProblemAsync(await PatchAsync("/v1/replication-groups/tokened", new { authTokenUpdateStrategy = "delete" }),
            HttpStatusCode.BadRequest, ErrorCodes.InvalidParameterCombination, "authTokenUpdateStrategy");
        await AssertProblemAsync(await PatchAsync("/v1/replication-groups/tokened", new { authToken = "bad token with spaces", authTokenUpdateStrategy = "rotate" }),
            HttpStatusCode.BadRequest, ErrorCodes.InvalidParameterValue, "authToken");
        Assert.Equal(before, await Client.GetStringAsync("/v1/replication-groups/tokened"));

        // Each change makes the group modifying until the reconciler (off here) has it on every node; meanwhile another is refused.
        var rotated = await AssertAcceptedAsync(await PatchAsync("/v1/replication-groups/tokened", new { authToken = second, authTokenUpdateStrategy = "rotate" }));
        Assert.Equal("modifying", (string?)rotated["status"]);
        Assert.Equal("rotate", (string?)rotated["pendingChanges"]!["authTokenUpdateStrategy"]);
        await AssertProblemAsync(await PatchAsync("/v1/replication-groups/tokened", new { authToken = second, authTokenUpdateStrategy = "set" }),
            HttpStatusCode.Conflict, ErrorCodes.InvalidReplicationGroupState);
        await MarkAvailableAsync("tokened");
        Assert.Equal("modifying", (string?)(await AssertAcceptedAsync(await PatchAsync("/v1/replication-groups/tokened", new { authToken = second, authTokenUpdateStrategy = "set" })))["status"]);
        await MarkAvailableAsync("tokened");
        await AssertNoTokenStoredAsync();
        // A second set has no rotation before it.
        await AssertProblemAsync(await PatchAsync("/v1/replication-groups/tokened", new { authToken = second, authTokenUpdateStrategy = "set" }),
            HttpStatusCode.BadRequest, ErrorCodes.InvalidParameterCombination, "authTokenUpdateStrategy");

        Assert.Equal(HttpStatusCode.Created, (await PostAsync("/v1/users", new { userId = "def", userName = "default", passwords = new[] { first }, accessString = "on ~* +@all" })).StatusCode);
        Assert.Equal(HttpStatusCode.Created, (await PostAsync("/v1/user-groups", new { userGroupId = "team", userIds = new[] { "def" } })).StatusCode);
        await AssertProblemAsync(await PatchAsync("/v1/replication-groups/tokened", new { userGroupIdsToAdd = new[] { "team" } }),
            HttpStatusCode.BadRequest, ErrorCodes.InvalidParameterCombination, "userGroupIdsToAdd");
        var moved = await AssertAcceptedAsync(await PatchAsync("/v1/replication-groups/tokened", new { authTokenUpdateStrategy = "delete", userGroupIdsToAdd = new[] { "team" } }));
        Assert.False((bool)moved["authTokenEnabled"]!);
        Assert.Equal(["team"], moved["userGroupIds"]!.AsArray().Select(u => (string)u!));
        Assert.Equal("modifying", (string?)moved["status"]);
        Assert.Equal(["team"], moved["pendingChanges"]!["userGroupIds"]!.AsArray().Select(u => (string)u!));
        await MarkAvailableAsync("tokened");
        await AssertProblemAsync(await PatchAsync("/v1/replication-groups/tokened", new { authToken = first, authTokenUpdateStrategy = "rotate" }),
            HttpStatusCode.BadRequest, ErrorCodes.InvalidParameterCombination, "authToken");
        var open = await AssertAcceptedAsync(await PatchAsync("/v1/replication-groups/tokened", new { userGroupIdsToRemove = new[] { "team" } }));
        Assert.Empty(open["userGroupIds"]!.AsArray());
    }
}
