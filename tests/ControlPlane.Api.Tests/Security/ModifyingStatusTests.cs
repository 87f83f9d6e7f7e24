using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using System.Xml.Linq;
using ControlPlane.Api.Reconciliation;
using ControlPlane.Api.Tests.Infrastructure;
using ControlPlane.Domain;
using ControlPlane.Domain.Planning;
using Microsoft.EntityFrameworkCore;

namespace ControlPlane.Api.Tests.Security;

/// <summary>
/// A replication group is modifying from the request of an auth token change, a transit encryption
/// step or a user group change until every node holds it, then available (as on ElastiCache), on
/// real nodes. Right after each request the test holds the group's reconciler lock (as another
/// control-plane process would), so that the group is seen modifying, through REST and the query
/// API, while its nodes do not have the change yet; once released, the group says available only
/// when every node has it: logging in with the new token or user works on every node at that moment.
/// Token groups run with transit encryption, as tokens require.
/// </summary>
public sealed class ModifyingStatusTests(PostgresFixture postgres) : ReconcilerTest(postgres)
{
    private const string OldToken = "old-token-0123456789abcdef";
    private const string NewToken = "new-token-0123456789abcdef";

    private TlsClient? _tls;

    [Fact]
    public async Task Rotate_and_set_keep_the_group_modifying_until_every_node_takes_the_token()
    {
        var group = await CreateAsync(new { id = "mod-tok", replicasPerShard = 2, transitEncryption = true, authToken = OldToken });

        await using (await HoldAsync("mod-tok"))
        {
            var rotating = await AssertAcceptedAsync(await PatchAsync("/v1/replication-groups/mod-tok", new { authToken = NewToken, authTokenUpdateStrategy = "rotate" }));
            Assert.Equal("modifying", (string?)rotating["status"]);
            Assert.Equal("rotate", (string?)rotating["pendingChanges"]!["authTokenUpdateStrategy"]);
            await AssertModifyingAsync("mod-tok", "AuthTokenStatus", "ROTATING");
            // A second change waits, as every other one does while a group is modifying.
            await AssertProblemAsync(await PatchAsync("/v1/replication-groups/mod-tok", new { authToken = NewToken, authTokenUpdateStrategy = "set" }),
                HttpStatusCode.Conflict, ErrorCodes.InvalidReplicationGroupState);
            foreach (var node in Nodes(group))
                Assert.StartsWith("-WRONGPASS", await AuthAsync(node, NewToken));
        }
        await WaitForStatusAsync("/v1/replication-groups/mod-tok", "available", TimeSpan.FromSeconds(30));
        foreach (var node in Nodes(group))
        {
            Assert.Equal("+OK", await AuthAsync(node, NewToken));
            Assert.Equal("+OK", await AuthAsync(node, OldToken));
        }

        await using (await HoldAsync("mod-tok"))
        {
            var setting = await AssertAcceptedAsync(await PatchAsync("/v1/replication-groups/mod-tok", new { authToken = NewToken, authTokenUpdateStrategy = "set" }));
            Assert.Equal("modifying", (string?)setting["status"]);
            await AssertModifyingAsync("mod-tok", "AuthTokenStatus", "SETTING");
            foreach (var node in Nodes(group))
                Assert.Equal("+OK", await AuthAsync(node, OldToken));
        }
        var set = await WaitForStatusAsync("/v1/replication-groups/mod-tok", "available", TimeSpan.FromSeconds(30));
        Assert.Null(set["pendingChanges"]);
        foreach (var node in Nodes(group))
        {
            Assert.Equal("+OK", await AuthAsync(node, NewToken));
            Assert.StartsWith("-WRONGPASS", await AuthAsync(node, OldToken));
        }
        Assert.Contains("Modification complete for replication group mod-tok: the new auth token is accepted on every node", EventsText());
        Assert.Contains("Modification complete for replication group mod-tok: only the new auth token is accepted on every node", EventsText());
    }

    [Fact]
    public async Task A_rotation_whose_primary_dies_fails_over_and_ends_once_the_replacement_has_the_token()
    {
        var group = await CreateAsync(new { id = "mod-dead", replicasPerShard = 1, transitEncryption = true, authToken = OldToken });
        var primary = Nodes(group).Single(n => (string?)n["role"] == "primary");
        await using (await HoldAsync("mod-dead"))
        {
            // The primary dies with the rotation: no node of its container will ever take the token.
            using (var docker = Docker(Engines[(string)primary["availabilityZone"]!]))
                await docker.Containers.KillContainerAsync($"{Instance}-{primary["id"]}", new Docker.DotNet.Models.ContainerKillParameters { Signal = "SIGKILL" });
            Assert.Equal("modifying", (string?)(await AssertAcceptedAsync(await PatchAsync("/v1/replication-groups/mod-dead",
                new { authToken = NewToken, authTokenUpdateStrategy = "rotate" })))["status"]);
        }
        // The group fails over and replaces the dead node while modifying; it is available once the replacement has the tokens too.
        var healed = await WaitForStatusAsync("/v1/replication-groups/mod-dead", "available", TimeSpan.FromSeconds(90));
        var nodes = Nodes(healed).ToList();
        Assert.Equal(2, nodes.Count);
        Assert.DoesNotContain(nodes, n => (string?)n["id"] == (string?)primary["id"]);
        Assert.NotEqual((string?)primary["id"], (string?)nodes.Single(n => (string?)n["role"] == "primary")["id"]);
        foreach (var node in nodes)
        {
            Assert.Equal("available", (string?)node["status"]);
            Assert.Equal("+OK", await AuthAsync(node, NewToken));
            Assert.Equal("+OK", await AuthAsync(node, OldToken));
        }
        var events = EventsText();
        Assert.Contains($"Failover from primary node {primary["id"]}", events);
        Assert.Contains("Modification complete for replication group mod-dead", events);
    }

    [Fact]
    public async Task A_rotation_is_not_done_while_a_node_that_stopped_answering_lacks_the_token()
    {
        var group = await CreateAsync(new { id = "mod-mute", replicasPerShard = 1, transitEncryption = true, authToken = OldToken });
        var replica = Nodes(group).Single(n => (string?)n["role"] == "replica");
        var container = $"{Instance}-{replica["id"]}";
        using var docker = Docker(Engines[(string)replica["availabilityZone"]!]);
        await using (await HoldAsync("mod-mute"))
        {
            // Frozen, not gone: its container runs, it answers nothing, so it cannot take the token.
            await docker.Containers.PauseContainerAsync(container);
            await AssertAcceptedAsync(await PatchAsync("/v1/replication-groups/mod-mute", new { authToken = NewToken, authTokenUpdateStrategy = "rotate" }));
        }
        // The first time the group says available, every node it lists has the token: the frozen one was replaced first.
        JsonObject? seen = null;
        await WaitUntilAsync(async () => (string?)(seen = await BodyAsync(await Client.GetAsync("/v1/replication-groups/mod-mute")))["status"] == "available",
            TimeSpan.FromSeconds(90), () => $"never available: {seen?.ToJsonString()}\n{EventsText()}");
        var nodes = Nodes(seen!).ToList();
        Assert.DoesNotContain(nodes, n => (string?)n["id"] == (string?)replica["id"]);
        foreach (var node in nodes)
            Assert.Equal("+OK", await AuthAsync(node, NewToken));
        Assert.Contains($"Cache node {replica["id"]} failed", EventsText());
    }

    [Fact]
    public async Task A_transit_encryption_step_keeps_the_group_modifying_until_every_node_serves_it()
    {
        var group = await CreateAsync(new { id = "mod-tls", replicasPerShard = 1 });
        var tls = await TlsClient.FetchAsync(Client);
        await using (await HoldAsync("mod-tls"))
        {
            var preferring = await AssertAcceptedAsync(await PatchAsync("/v1/replication-groups/mod-tls", new { transitEncryption = true, transitEncryptionMode = "preferred" }));
            Assert.Equal("modifying", (string?)preferring["status"]);
            Assert.Equal("preferred", (string?)preferring["pendingChanges"]!["transitEncryptionMode"]);
            await AssertModifyingAsync("mod-tls", "TransitEncryptionMode", "preferred");
            foreach (var node in Nodes(group))
                Assert.Equal("+PONG\r\n", await TlsClient.PlainTextAsync(Port(node), "PING\r\n", r => r.EndsWith("\r\n", StringComparison.Ordinal)));
        }
        await WaitForStatusAsync("/v1/replication-groups/mod-tls", "available", TimeSpan.FromSeconds(30));
        foreach (var node in Nodes(group))
            Assert.Equal("+PONG\r\n", await tls.RequestAsync(Port(node), "PING\r\n", r => r.EndsWith("\r\n", StringComparison.Ordinal)));

        await using (await HoldAsync("mod-tls"))
        {
            Assert.Equal("modifying", (string?)(await AssertAcceptedAsync(await PatchAsync("/v1/replication-groups/mod-tls", new { transitEncryptionMode = "required" })))["status"]);
            await AssertModifyingAsync("mod-tls", "TransitEncryptionMode", "required");
        }
        var required = await WaitForStatusAsync("/v1/replication-groups/mod-tls", "available", TimeSpan.FromSeconds(30));
        Assert.Equal("required", (string?)required["transitEncryptionMode"]);
        foreach (var node in Nodes(required))
        {
            Assert.Equal("+PONG\r\n", await tls.RequestAsync(Port(node), "PING\r\n", r => r.EndsWith("\r\n", StringComparison.Ordinal)));
            Assert.Null(await TlsClient.PlainTextAsync(Port(node), "PING\r\n", r => r.EndsWith("\r\n", StringComparison.Ordinal)));
        }
        Assert.Contains("Modification complete for replication group mod-tls: every node serves transit encryption mode required", EventsText());
    }

    [Fact]
    public async Task A_transit_step_cut_short_before_the_links_switched_ends_with_tls_links_on_every_node()
    {
        var group = await CreateAsync(new { id = "mod-links", replicasPerShard = 1 });
        await AssertAcceptedAsync(await PatchAsync("/v1/replication-groups/mod-links", new { transitEncryption = true, transitEncryptionMode = "preferred" }));
        await WaitForStatusAsync("/v1/replication-groups/mod-links", "available", TimeSpan.FromSeconds(60));
        await using (await HoldAsync("mod-links"))
        {
            // As if the control plane had stopped after saving the last node's mode and before switching
            // the links: every row says preferred, the links are plain text, the group is still modifying.
            foreach (var node in Nodes(group))
            {
                await using var admin = await AdminAsync(node["endpoint"]!);
                await admin.GetServers()[0].ConfigSetAsync("tls-replication", "no");
            }
            await using var db = Factory.NewDbContext();
            await db.ReplicationGroups.Where(g => g.Id == "mod-links").ExecuteUpdateAsync(u => u
                .SetProperty(g => g.Status, GroupStatus.Modifying)
                .SetProperty(g => g.PendingChanges, new PendingChanges { TransitEncryptionMode = new Change<string?>("preferred") }));
        }
        await WaitForStatusAsync("/v1/replication-groups/mod-links", "available", TimeSpan.FromSeconds(30));
        foreach (var node in Nodes(group))
        {
            await using var admin = await AdminAsync(node["endpoint"]!);
            Assert.Equal("yes", (await admin.GetServers()[0].ConfigGetAsync("tls-replication")).Single().Value);
        }
    }

    [Fact]
    public async Task User_group_changes_keep_every_group_using_it_modifying_until_its_nodes_have_the_users()
    {
        const string defaultPassword = "default-password-0123456789";
        const string appPassword = "app-password-0123456789";
        const string newAppPassword = "app-password-renewed-0123456789";
        Assert.Equal(HttpStatusCode.Created, (await PostAsync("/v1/users", new { userId = "mod-default", userName = "default", passwords = new[] { defaultPassword }, accessString = "on ~* +@all" })).StatusCode);
        Assert.Equal(HttpStatusCode.Created, (await PostAsync("/v1/users", new { userId = "mod-app", userName = "app", passwords = new[] { appPassword }, accessString = "on ~app:* +@all" })).StatusCode);
        Assert.Equal(HttpStatusCode.Created, (await PostAsync("/v1/user-groups", new { userGroupId = "mod-team", userIds = new[] { "mod-default" } })).StatusCode);
        var group = await CreateAsync(new { id = "mod-rbac", replicasPerShard = 1, transitEncryption = true, authToken = OldToken });

        // From the auth token to the user group (PATCH userGroupIdsToAdd).
        await using (await HoldAsync("mod-rbac"))
        {
            var moving = await AssertAcceptedAsync(await PatchAsync("/v1/replication-groups/mod-rbac", new { authTokenUpdateStrategy = "delete", userGroupIdsToAdd = new[] { "mod-team" } }));
            Assert.Equal("modifying", (string?)moving["status"]);
            Assert.Equal(["mod-team"], moving["pendingChanges"]!["userGroupIds"]!.AsArray().Select(u => (string)u!));
            await AssertModifyingAsync("mod-rbac", null, null);
            foreach (var node in Nodes(group))
                Assert.Equal("+OK", await AuthAsync(node, OldToken));
        }
        await WaitForStatusAsync("/v1/replication-groups/mod-rbac", "available", TimeSpan.FromSeconds(30));
        foreach (var node in Nodes(group))
        {
            Assert.Equal("+OK", await AuthAsync(node, defaultPassword));
            Assert.StartsWith("-WRONGPASS", await AuthAsync(node, OldToken));
        }

        // A user joins the user group: the replication group using it is modifying, and the user group too.
        await using (await HoldAsync("mod-rbac"))
        {
            Assert.Equal("modifying", (string?)(await AssertAcceptedAsync(await PatchAsync("/v1/user-groups/mod-team", new { userIdsToAdd = new[] { "mod-app" } })))["status"]);
            var joining = await BodyAsync(await Client.GetAsync("/v1/replication-groups/mod-rbac"));
            Assert.Equal("modifying", (string?)joining["status"]);
            Assert.Equal(["mod-team"], joining["pendingChanges"]!["userGroupIds"]!.AsArray().Select(u => (string)u!));
            await AssertModifyingAsync("mod-rbac", null, null);
            foreach (var node in Nodes(group))
                Assert.StartsWith("-WRONGPASS", await AuthAsync(node, "app", appPassword));
        }
        await WaitForStatusAsync("/v1/replication-groups/mod-rbac", "available", TimeSpan.FromSeconds(30));
        foreach (var node in Nodes(group))
            Assert.Equal("+OK", await AuthAsync(node, "app", appPassword));
        await WaitForStatusAsync("/v1/user-groups/mod-team", "active", TimeSpan.FromSeconds(10));

        // A member's new password reaches the group the same way.
        await using (await HoldAsync("mod-rbac"))
        {
            await AssertAcceptedAsync(await PatchAsync("/v1/users/mod-app", new { passwords = new[] { newAppPassword } }));
            Assert.Equal("modifying", (string?)(await BodyAsync(await Client.GetAsync("/v1/replication-groups/mod-rbac")))["status"]);
            Assert.Equal("modifying", (string?)(await BodyAsync(await Client.GetAsync("/v1/users/mod-app")))["status"]);
        }
        await WaitForStatusAsync("/v1/replication-groups/mod-rbac", "available", TimeSpan.FromSeconds(30));
        foreach (var node in Nodes(group))
        {
            Assert.Equal("+OK", await AuthAsync(node, "app", newAppPassword));
            Assert.StartsWith("-WRONGPASS", await AuthAsync(node, "app", appPassword));
        }
        Assert.Contains("Modification complete for replication group mod-rbac: every node holds the users of user group mod-team", EventsText());
    }

    private async Task<JsonObject> CreateAsync(object body)
    {
        var id = (string)JsonNode.Parse(System.Text.Json.JsonSerializer.Serialize(body))!["id"]!;
        await AssertAcceptedAsync(await PostAsync("/v1/replication-groups", body));
        return await WaitForStatusAsync($"/v1/replication-groups/{id}", "available", TimeSpan.FromMinutes(2));
    }

    /// <summary>The group's reconciler lock, taken as another control-plane process would: nothing converges the group until it is released.</summary>
    private async Task<IAsyncDisposable> HoldAsync(string id)
    {
        // The lock lives on the context's connection: the context lives as long as the hold.
        var db = Factory.NewDbContext();
        GroupLock? held = null;
        await WaitUntilAsync(async () => (held = await GroupLock.TryTakeAsync(db, $"{Catalog.Redis}:{id}", CancellationToken.None)) is not null,
            TimeSpan.FromSeconds(30), () => $"the reconciler never let go of {id}");
        return new Hold(held!, db);
    }

    private sealed class Hold(GroupLock held, ControlPlane.Api.Data.ControlPlaneDbContext db) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            await held.DisposeAsync();
            await db.DisposeAsync();
        }
    }

    /// <summary>Modifying through REST and through the query API (DescribeReplicationGroups), with the pending value ElastiCache shows.</summary>
    private async Task AssertModifyingAsync(string id, string? pendingValue, string? expected)
    {
        Assert.Equal("modifying", (string?)(await BodyAsync(await Client.GetAsync($"/v1/replication-groups/{id}")))["status"]);
        var response = await Client.SendAsync(Signed($"Action=DescribeReplicationGroups&Version=2015-02-02&ReplicationGroupId={id}"));
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, text);
        var group = XDocument.Parse(text).Descendants().First(e => e.Name.LocalName == "ReplicationGroup");
        Assert.Equal("modifying", group.Elements().Single(e => e.Name.LocalName == "Status").Value);
        if (pendingValue is not null)
            Assert.Equal(expected, group.Elements().Single(e => e.Name.LocalName == "PendingModifiedValues").Elements().Single(e => e.Name.LocalName == pendingValue).Value);
    }

    /// <summary>A query API request signed with Signature Version 4 by the admin key, as an AWS SDK signs it.</summary>
    private HttpRequestMessage Signed(string form)
    {
        var now = DateTimeOffset.UtcNow;
        var (amzDate, date, host) = (now.ToString("yyyyMMdd'T'HHmmss'Z'", System.Globalization.CultureInfo.InvariantCulture), now.ToString("yyyyMMdd", System.Globalization.CultureInfo.InvariantCulture), Client.BaseAddress!.Authority);
        const string region = "eu-west-1";
        var canonical = string.Join('\n', "POST", "/", "", $"host:{host}\nx-amz-date:{amzDate}\n", "host;x-amz-date", Hex(SHA256.HashData(Encoding.UTF8.GetBytes(form))));
        var toSign = string.Join('\n', "AWS4-HMAC-SHA256", amzDate, $"{date}/{region}/elasticache/aws4_request", Hex(SHA256.HashData(Encoding.UTF8.GetBytes(canonical))));
        var key = Hmac(Hmac(Hmac(Hmac(Encoding.UTF8.GetBytes("AWS4" + TestKeys.AdminSecret), date), region), "elasticache"), "aws4_request");
        var request = new HttpRequestMessage(HttpMethod.Post, "/") { Content = new StringContent(form, Encoding.UTF8, "application/x-www-form-urlencoded") };
        request.Headers.Host = host;
        request.Headers.Add("X-Amz-Date", amzDate);
        request.Headers.TryAddWithoutValidation("Authorization",
            $"AWS4-HMAC-SHA256 Credential={TestKeys.AdminKeyId}/{date}/{region}/elasticache/aws4_request, SignedHeaders=host;x-amz-date, Signature={Hex(Hmac(key, toSign))}");
        return request;
    }

    private static byte[] Hmac(byte[] key, string data) => HMACSHA256.HashData(key, Encoding.UTF8.GetBytes(data));

    private static string Hex(byte[] bytes) => Convert.ToHexStringLower(bytes);

    private static IEnumerable<JsonNode> Nodes(JsonNode group) => group["shards"]!.AsArray().SelectMany(s => s!["nodes"]!.AsArray()).Select(n => n!);

    private static int Port(JsonNode node) => (int)node["endpoint"]!["port"]!;

    /// <summary>An AUTH on the node as a client sends it: over TLS (tokens come only with transit encryption), checked against the API's authority.</summary>
    private async Task<string> AuthAsync(JsonNode node, params string[] credentials)
    {
        _tls ??= await TlsClient.FetchAsync(Client);
        await using var client = await Resp.ConnectAsync(node["endpoint"]!, _tls);
        return await client.SendAsync(["AUTH", .. credentials]);
    }
}
