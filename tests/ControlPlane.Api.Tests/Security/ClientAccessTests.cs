using System.Diagnostics;
using System.Net;
using System.Text.Json.Nodes;
using ControlPlane.Api.Tests.Infrastructure;
using ControlPlane.Api.Tests.Reconciliation;
using ControlPlane.Domain;
using StackExchange.Redis;

namespace ControlPlane.Api.Tests.Security;

/// <summary>
/// Auth tokens and RBAC users on real nodes: a rotation under a client that keeps writing and
/// switches tokens halfway, replication and failover on the control plane's own users throughout,
/// users whose access strings the engine enforces, a change that reaches every node of every group
/// using it, and the restricted commands refused whatever the credential. Token groups run with
/// transit encryption (a token needs it), and their clients trust the authority from GET /v1/ca.pem.
/// </summary>
public sealed class ClientAccessTests(PostgresFixture postgres, Xunit.Abstractions.ITestOutputHelper output) : ReconcilerTest(postgres)
{
    private const string OldToken = "old-token-0123456789abcdef";
    private const string NewToken = "new-token-!&#$^<>-0123456789";

    /// <summary>How this test's clients reach the nodes: over TLS for token groups, plain text for the RBAC groups.</summary>
    private TlsClient? _tls;

    [Fact]
    public async Task A_rotation_fails_no_command_of_a_switching_client_and_set_then_locks_the_old_token_out()
    {
        await AssertAcceptedAsync(await PostAsync("/v1/replication-groups", new { id = "rotating", replicasPerShard = 1, transitEncryption = true, authToken = OldToken }));
        var group = await WaitForStatusAsync("/v1/replication-groups/rotating", "available");
        _tls = await TlsClient.FetchAsync(Client);
        Assert.True((bool)group["authTokenEnabled"]!);
        var created = (DateTimeOffset)group["authTokenLastModifiedAt"]!;

        // Without the token nothing works; with it every data command does, and no restricted one.
        await using (var anonymous = await Resp.ConnectAsync(group["primaryEndpoint"]!, _tls))
            Assert.StartsWith("-NOAUTH", await anonymous.SendAsync("GET", "k"));
        await AssertRestrictedRefusedAsync(group["primaryEndpoint"]!, null, OldToken);

        // Refused input changes nothing on any node: a set with no rotation before it, a token with a space.
        await AssertProblemAsync(await PatchAsync("/v1/replication-groups/rotating", new { authToken = NewToken, authTokenUpdateStrategy = "set" }),
            HttpStatusCode.BadRequest, ErrorCodes.InvalidParameterCombination, "authTokenUpdateStrategy");
        await AssertProblemAsync(await PatchAsync("/v1/replication-groups/rotating", new { authToken = "with a space 0123456789", authTokenUpdateStrategy = "rotate" }),
            HttpStatusCode.BadRequest, ErrorCodes.InvalidParameterValue, "authToken");
        foreach (var node in Nodes(group))
        {
            Assert.StartsWith("-WRONGPASS", await AuthAsync(node["endpoint"]!, NewToken));
            Assert.Equal("+OK", await AuthAsync(node["endpoint"]!, OldToken));
        }

        await using var writer = await AcknowledgedWriter.StartAsync(RedisCreateTests.Endpoint(group["primaryEndpoint"]!), OldToken, _tls.Configure);
        await writer.WaitForAsync(100);

        // rotate: both tokens work on every node; the client then switches to the new one.
        var rotated = await AssertAcceptedAsync(await PatchAsync("/v1/replication-groups/rotating", new { authToken = NewToken, authTokenUpdateStrategy = "rotate" }));
        Assert.True((DateTimeOffset)rotated["authTokenLastModifiedAt"]! > created);
        var clock = Stopwatch.StartNew();
        await WaitForEveryNodeAsync(group, NewToken, accepted: true);
        var reached = clock.Elapsed;
        foreach (var node in Nodes(group))
            Assert.Equal("+OK", await AuthAsync(node["endpoint"]!, OldToken));
        await writer.SwitchAsync(NewToken);
        await writer.WaitForAsync(writer.Acknowledged.Count + 100);
        Assert.Equal(0, writer.Failed);

        // set: only the new token; the client on it does not notice.
        await WaitForStatusAsync("/v1/replication-groups/rotating", "available");
        await AssertAcceptedAsync(await PatchAsync("/v1/replication-groups/rotating", new { authToken = NewToken, authTokenUpdateStrategy = "set" }));
        await WaitForEveryNodeAsync(group, OldToken, accepted: false);
        await WaitForStatusAsync("/v1/replication-groups/rotating", "available");
        await writer.WaitForAsync(writer.Acknowledged.Count + 100);
        Assert.Equal(0, writer.Failed);
        Assert.Equal("+OK", await AuthAsync(Nodes(group).First()["endpoint"]!, NewToken));
        await AssertRestrictedRefusedAsync(group["primaryEndpoint"]!, null, NewToken);

        // Replication logs in as the control plane's user, whatever the clients' token: the replica
        // has every acknowledged write, and a failover (planned) keeps them all.
        writer.ExpectFailover();
        await AssertAcceptedAsync(await PostAsync("/v1/replication-groups/rotating/test-failover", new { shardId = "0001" }));
        var primaryBefore = Nodes(group).Single(n => (string?)n["role"] == "primary");
        JsonObject? after = null;
        await WaitUntilAsync(async () =>
        {
            after = await BodyAsync(await Client.GetAsync("/v1/replication-groups/rotating"));
            return (string?)after["status"] == "available" && Nodes(after).Any(n => (string?)n["role"] == "primary" && (string?)n["id"] != (string?)primaryBefore["id"]);
        }, TimeSpan.FromSeconds(60), () => $"no failover: {after?.ToJsonString()}\n{EventsText()}");
        await writer.WaitForAsync(writer.Acknowledged.Count + 50);
        var acknowledged = await writer.StopAsync();
        var newPrimary = Nodes(after!).Single(n => (string?)n["role"] == "primary");
        var options = _tls.Options(RedisCreateTests.Endpoint(newPrimary["endpoint"]!));
        options.Password = NewToken;
        await using (var client = await ConnectionMultiplexer.ConnectAsync(options))
            await AcknowledgedWriter.AssertKeptAsync(client, acknowledged);
        Assert.Equal("+OK", await AuthAsync(newPrimary["endpoint"]!, NewToken));
        Assert.StartsWith("-WRONGPASS", await AuthAsync(newPrimary["endpoint"]!, OldToken));
        output.WriteLine($"rotation reached every node in {reached.TotalMilliseconds:F0} ms; {acknowledged.Count} acknowledged writes, "
            + $"{writer.Failed} failed commands before the failover, {writer.FailedDuringFailover} while it ran");
    }

    [Fact]
    public async Task Tokens_follow_a_reshard_onto_new_nodes_while_rotating()
    {
        await AssertAcceptedAsync(await PostAsync("/v1/replication-groups", new { id = "tok-shards", clusterMode = "enabled", numShards = 1, replicasPerShard = 1, transitEncryption = true, authToken = OldToken }));
        var group = await WaitForStatusAsync("/v1/replication-groups/tok-shards", "available");
        _tls = await TlsClient.FetchAsync(Client);
        var options = _tls.Options(RedisCreateTests.Endpoint(group["configurationEndpoint"]!));
        options.Password = OldToken;
        await using var client = await ConnectionMultiplexer.ConnectAsync(options);
        var keys = Enumerable.Range(0, 500).Select(i => $"shard-key:{i}").ToList();
        foreach (var key in keys)
            await client.GetDatabase().StringSetAsync(key, key);

        await AssertAcceptedAsync(await PatchAsync("/v1/replication-groups/tok-shards", new { authToken = NewToken, authTokenUpdateStrategy = "rotate" }));
        await WaitForEveryNodeAsync(group, NewToken, accepted: true);
        await WaitForStatusAsync("/v1/replication-groups/tok-shards", "available");
        // Scale-out while both tokens are accepted: the new shard's nodes get both, MIGRATE logs in as the control plane.
        await AssertAcceptedAsync(await PatchAsync("/v1/replication-groups/tok-shards", new { numShards = 2 }));
        var grown = await WaitForStatusAsync("/v1/replication-groups/tok-shards", "available", TimeSpan.FromSeconds(120));
        Assert.Equal(4, Nodes(grown).Count());
        foreach (var node in Nodes(grown))
        {
            Assert.Equal("+OK", await AuthAsync(node["endpoint"]!, OldToken));
            Assert.Equal("+OK", await AuthAsync(node["endpoint"]!, NewToken));
        }
        await AssertAcceptedAsync(await PatchAsync("/v1/replication-groups/tok-shards", new { authToken = NewToken, authTokenUpdateStrategy = "set" }));
        await WaitForEveryNodeAsync(grown, OldToken, accepted: false);
        var afterOptions = _tls.Options(RedisCreateTests.Endpoint(grown["configurationEndpoint"]!));
        afterOptions.Password = NewToken;
        await using var after = await ConnectionMultiplexer.ConnectAsync(afterOptions);
        foreach (var key in keys)
            Assert.Equal(key, (string?)await after.GetDatabase().StringGetAsync(key));
    }

    [Fact]
    public async Task A_snapshot_of_a_token_group_restores_into_a_group_with_its_own_token()
    {
        await AssertAcceptedAsync(await PostAsync("/v1/replication-groups", new { id = "tok-source", replicasPerShard = 0, transitEncryption = true, authToken = OldToken }));
        var source = await WaitForStatusAsync("/v1/replication-groups/tok-source", "available");
        _tls = await TlsClient.FetchAsync(Client);
        await using (var client = await Resp.ConnectAsync(source["primaryEndpoint"]!, _tls))
        {
            Assert.Equal("+OK", await client.SendAsync("AUTH", OldToken));
            Assert.Equal("+OK", await client.SendAsync("SET", "kept", "yes"));
        }
        await AssertAcceptedAsync(await PostAsync("/v1/snapshots", new { name = "tok-snap", replicationGroupId = "tok-source" }));
        await WaitForStatusAsync("/v1/snapshots/tok-snap", "available");

        // The file holds data, not users: the new group's nodes take the token the new group names.
        await AssertAcceptedAsync(await PostAsync("/v1/replication-groups", new { id = "tok-restored", replicasPerShard = 1, transitEncryption = true, authToken = NewToken, restoreFromSnapshot = "tok-snap" }));
        var restored = await WaitForStatusAsync("/v1/replication-groups/tok-restored", "available");
        foreach (var node in Nodes(restored))
        {
            Assert.StartsWith("-WRONGPASS", await AuthAsync(node["endpoint"]!, OldToken));
            await using var client = await Resp.ConnectAsync(node["endpoint"]!, _tls);
            Assert.Equal("+OK", await client.SendAsync("AUTH", NewToken));
            await WaitUntilAsync(async () => await client.SendAsync("GET", "kept") == "yes", TimeSpan.FromSeconds(10), () => $"{node["id"]} never had the restored key");
        }
    }

    [Fact]
    public async Task Rbac_users_get_what_their_access_string_allows_and_a_change_reaches_every_node_of_both_groups()
    {
        const string appPassword = "app-password-0123456789";
        const string opsPassword = "ops-password-0123456789";
        const string defaultPassword = "default-password-0123456789";
        Assert.Equal(HttpStatusCode.Created, (await PostAsync("/v1/users", new { userId = "team-default", userName = "default", passwords = new[] { defaultPassword }, accessString = "on ~* +@all" })).StatusCode);
        Assert.Equal(HttpStatusCode.Created, (await PostAsync("/v1/users", new { userId = "app", userName = "app", engine = "valkey", passwords = new[] { appPassword }, accessString = "on ~app:* +@read" })).StatusCode);
        Assert.Equal(HttpStatusCode.Created, (await PostAsync("/v1/users", new { userId = "ops", userName = "ops", passwords = new[] { opsPassword }, accessString = "on ~* &* +@all" })).StatusCode);
        Assert.Equal(HttpStatusCode.Created, (await PostAsync("/v1/user-groups", new { userGroupId = "team", userIds = new[] { "team-default", "app", "ops" } })).StatusCode);
        await AssertAcceptedAsync(await PostAsync("/v1/replication-groups", new { id = "rbac-valkey", engine = "valkey", replicasPerShard = 1, userGroupIds = new[] { "team" } }));
        await AssertAcceptedAsync(await PostAsync("/v1/replication-groups", new { id = "rbac-redis", replicasPerShard = 0, userGroupIds = new[] { "team" } }));
        var groups = new[]
        {
            await WaitForStatusAsync("/v1/replication-groups/rbac-valkey", "available"),
            await WaitForStatusAsync("/v1/replication-groups/rbac-redis", "available"),
        };
        await WaitForStatusAsync("/v1/user-groups/team", "active", TimeSpan.FromSeconds(20));
        var nodes = groups.SelectMany(Nodes).ToList();
        Assert.Equal(3, nodes.Count);

        foreach (var node in nodes)
        {
            await using (var admin = await AdminAsync(node["endpoint"]!))
                if (((string?)node["role"]) == "primary")
                {
                    await admin.GetDatabase().StringSetAsync("app:1", "one");
                    await admin.GetDatabase().StringSetAsync("other:1", "secret");
                }
        }
        foreach (var node in nodes)
        {
            await using var app = await Resp.ConnectAsync(node["endpoint"]!);
            Assert.Equal("+OK", await app.SendAsync("AUTH", "app", appPassword));
            await WaitUntilAsync(async () => await app.SendAsync("GET", "app:1") == "one", TimeSpan.FromSeconds(10), () => $"{node["id"]}: app:1 never readable");
            Assert.StartsWith("-NOPERM", await app.SendAsync("SET", "app:1", "two"));
            Assert.StartsWith("-NOPERM", await app.SendAsync("GET", "other:1"));
            Assert.StartsWith("-NOPERM", await app.SendAsync("CONFIG", "GET", "maxmemory"));
            await using var anonymous = await Resp.ConnectAsync(node["endpoint"]!);
            Assert.StartsWith("-NOAUTH", await anonymous.SendAsync("GET", "app:1"));
            // +@all is not all: the restricted commands stay with the control plane, for the default user of the group too.
            await AssertRestrictedRefusedAsync(node["endpoint"]!, "ops", opsPassword);
            await AssertRestrictedRefusedAsync(node["endpoint"]!, null, defaultPassword);
        }

        // An access string the engine refuses (no such command) is a 400 and changes nothing on any node.
        await AssertProblemAsync(await PatchAsync("/v1/users/app", new { accessString = "on ~app:* +@read +nosuchcommand" }),
            HttpStatusCode.BadRequest, ErrorCodes.InvalidParameterValue, "accessString");
        await AssertProblemAsync(await PatchAsync("/v1/user-groups/team", new { userIdsToRemove = new[] { "team-default" } }),
            HttpStatusCode.BadRequest, ErrorCodes.InvalidParameterValue, "userIdsToRemove");
        foreach (var node in nodes)
        {
            await using var admin = await AdminAsync(node["endpoint"]!);
            var rules = string.Join('\n', (string[])(await admin.GetServers()[0].ExecuteAsync("ACL", "LIST"))!);
            Assert.DoesNotContain("nosuchcommand", rules);
        }

        // The app may now write its keys: on every node of both groups, within seconds.
        var clock = Stopwatch.StartNew();
        await AssertAcceptedAsync(await PatchAsync("/v1/users/app", new { accessString = "on ~app:* +@read +@write" }));
        await WaitForStatusAsync("/v1/users/app", "active", TimeSpan.FromSeconds(20));
        var applied = clock.Elapsed;
        foreach (var node in nodes.Where(n => (string?)n["role"] == "primary"))
        {
            await using var app = await Resp.ConnectAsync(node["endpoint"]!);
            Assert.Equal("+OK", await app.SendAsync("AUTH", "app", appPassword));
            Assert.Equal("+OK", await app.SendAsync("SET", "app:1", "two"));
            Assert.StartsWith("-NOPERM", await app.SendAsync("SET", "other:1", "x"));
        }
        foreach (var node in nodes.Where(n => (string?)n["role"] == "replica"))
        {
            await using var app = await Resp.ConnectAsync(node["endpoint"]!);
            Assert.Equal("+OK", await app.SendAsync("AUTH", "app", appPassword));
            // A replica refuses writes as a replica (READONLY), no longer for want of permission.
            Assert.StartsWith("-READONLY", await app.SendAsync("SET", "app:1", "three"));
        }

        // A user leaves the group: gone from every node (its login fails), the others stay.
        await AssertAcceptedAsync(await PatchAsync("/v1/user-groups/team", new { userIdsToRemove = new[] { "ops" } }));
        await WaitForStatusAsync("/v1/user-groups/team", "active", TimeSpan.FromSeconds(20));
        foreach (var node in nodes)
        {
            await using var client = await Resp.ConnectAsync(node["endpoint"]!);
            Assert.StartsWith("-WRONGPASS", await client.SendAsync("AUTH", "ops", opsPassword));
            Assert.Equal("+OK", await client.SendAsync("AUTH", "app", appPassword));
        }
        // A node that replaces a dead one serves nobody but the group's users.
        var replica = Nodes(groups[0]).Single(n => (string?)n["role"] == "replica");
        using (var docker = Docker(Engines[(string)replica["availabilityZone"]!]))
            await docker.Containers.KillContainerAsync($"{Instance}-{replica["id"]}", new Docker.DotNet.Models.ContainerKillParameters { Signal = "SIGKILL" });
        JsonObject? healed = null;
        await WaitUntilAsync(async () =>
        {
            healed = await BodyAsync(await Client.GetAsync("/v1/replication-groups/rbac-valkey"));
            var now = Nodes(healed).ToList();
            return (string?)healed["status"] == "available" && now.Count == 2
                && now.All(n => (string?)n["status"] == "available" && (string?)n["id"] != (string?)replica["id"]);
        }, TimeSpan.FromSeconds(60), () => $"never replaced: {healed?.ToJsonString()}\n{EventsText()}");
        var replacement = Nodes(healed!).Single(n => (string?)n["role"] == "replica");
        await using (var anonymous = await Resp.ConnectAsync(replacement["endpoint"]!))
            Assert.StartsWith("-NOAUTH", await anonymous.SendAsync("GET", "app:1"));
        await using (var app = await Resp.ConnectAsync(replacement["endpoint"]!))
        {
            Assert.Equal("+OK", await app.SendAsync("AUTH", "app", appPassword));
            await WaitUntilAsync(async () => await app.SendAsync("GET", "app:1") == "two", TimeSpan.FromSeconds(10), () => "the replacement never had app:1");
            Assert.StartsWith("-NOPERM", await app.SendAsync("GET", "other:1"));
        }

        output.WriteLine($"an access string change reached the {nodes.Count} nodes of 2 groups in {applied.TotalMilliseconds:F0} ms");
    }

    private static IEnumerable<JsonNode> Nodes(JsonNode group) => group["shards"]!.AsArray().SelectMany(s => s!["nodes"]!.AsArray()).Select(n => n!);

    private async Task<string> AuthAsync(JsonNode endpoint, string password)
    {
        await using var client = await Resp.ConnectAsync(endpoint, _tls);
        return await client.SendAsync("AUTH", password);
    }

    private async Task WaitForEveryNodeAsync(JsonNode group, string token, bool accepted)
    {
        foreach (var node in Nodes(group))
            await WaitUntilAsync(async () => (await AuthAsync(node["endpoint"]!, token) == "+OK") == accepted,
                TimeSpan.FromSeconds(15), () => $"{node["id"]} {(accepted ? "never accepted" : "still accepts")} the token\n{EventsText()}");
    }

    private async Task AssertRestrictedRefusedAsync(JsonNode endpoint, string? user, string password)
    {
        await using var client = await Resp.ConnectAsync(endpoint, _tls);
        Assert.Equal("+OK", user is null ? await client.SendAsync("AUTH", password) : await client.SendAsync("AUTH", user, password));
        foreach (var command in NodeAccessTests.Restricted)
        {
            var answer = await client.SendAsync(command.Select(c => c.ToString()!).ToArray());
            Assert.True(answer.StartsWith("-NOPERM", StringComparison.Ordinal) || answer.Contains("command not allowed", StringComparison.Ordinal),
                $"{user ?? "default"}: {string.Join(' ', command)} answered {answer}");
        }
        Assert.Equal("+PONG", await client.SendAsync("PING"));
    }
}

/// <summary>
/// RESP over a bare socket (or TLS over it, trusting what the <see cref="TlsClient"/> trusts), whole
/// replies read: an error or status line as sent, a bulk string's text, an array's first element.
/// </summary>
internal sealed class Resp : IAsyncDisposable
{
    private readonly System.Net.Sockets.TcpClient _tcp;
    private readonly Stream _stream;
    private readonly StreamReader _reader;

    private Resp(System.Net.Sockets.TcpClient tcp, Stream stream) => (_tcp, _stream, _reader) = (tcp, stream, new StreamReader(stream, System.Text.Encoding.UTF8));

    public static async Task<Resp> ConnectAsync(JsonNode endpoint, TlsClient? tls = null)
    {
        var tcp = new System.Net.Sockets.TcpClient();
        await tcp.ConnectAsync((string)endpoint["host"]!, (int)endpoint["port"]!);
        if (tls is null)
            return new Resp(tcp, tcp.GetStream());
        var secure = new System.Net.Security.SslStream(tcp.GetStream());
        await secure.AuthenticateAsClientAsync(new System.Net.Security.SslClientAuthenticationOptions
        {
            TargetHost = (string)endpoint["host"]!,
            RemoteCertificateValidationCallback = (_, certificate, _, _) => tls.Verify(certificate),
        }).WaitAsync(TimeSpan.FromSeconds(10));
        return new Resp(tcp, secure);
    }

    public async Task<string> SendAsync(params string[] args)
    {
        var text = new System.Text.StringBuilder($"*{args.Length}\r\n");
        foreach (var arg in args)
            text.Append($"${System.Text.Encoding.UTF8.GetByteCount(arg)}\r\n{arg}\r\n");
        await _stream.WriteAsync(System.Text.Encoding.UTF8.GetBytes(text.ToString()));
        return await ReadAsync().WaitAsync(TimeSpan.FromSeconds(10));
    }

    private async Task<string> ReadAsync()
    {
        var line = await _reader.ReadLineAsync() ?? "(closed)";
        if (line.StartsWith('$') && line != "$-1")
            return await _reader.ReadLineAsync() ?? "(closed)";
        if (line.StartsWith('*') && int.TryParse(line[1..], out var count) && count > 0)
        {
            var first = await ReadAsync();
            for (var i = 1; i < count; i++)
                await ReadAsync();
            return first;
        }
        return line;
    }

    public async ValueTask DisposeAsync()
    {
        await _stream.DisposeAsync();
        _tcp.Dispose();
    }
}
