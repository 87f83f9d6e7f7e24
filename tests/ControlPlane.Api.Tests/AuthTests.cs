using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json.Nodes;
using ControlPlane.Api.Data;
using ControlPlane.Api.Tests.Infrastructure;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace ControlPlane.Api.Tests;

/// <summary>API keys and roles: who may call what, and what a refused call answers.</summary>
public sealed class AuthTests(PostgresFixture postgres) : ApiTest(postgres)
{
    [Fact]
    public async Task Every_endpoint_refuses_a_missing_malformed_unknown_and_revoked_key()
    {
        var operatorKey = await NewKeyAsync("operator", "default");
        var revoked = await NewKeyAsync("operator", "default");
        await AssertRevokedAsync(revoked);
        var unknown = $"cpk_{(string)operatorKey["keyId"]!}_{new string('0', 64)}";
        var endpoints = Endpoints().Where(e => !e.Anonymous).ToList();
        Assert.True(endpoints.Count >= 20, $"only {endpoints.Count} endpoints found");
        foreach (var (method, path, _) in endpoints)
        {
            await AssertProblemAsync(await SendAsync(method, path, null), HttpStatusCode.Unauthorized, "AuthenticationRequired");
            await AssertProblemAsync(await SendAsync(method, path, "cpk_nonsense"), HttpStatusCode.Unauthorized, "InvalidApiKey");
            await AssertProblemAsync(await SendAsync(method, path, unknown), HttpStatusCode.Unauthorized, "InvalidApiKey");
            await AssertProblemAsync(await SendAsync(method, path, (string)revoked["key"]!), HttpStatusCode.Unauthorized, "InvalidApiKey");
        }
    }

    [Fact]
    public async Task Every_endpoint_refuses_a_role_below_it()
    {
        var viewer = (string)(await NewKeyAsync("viewer", "default"))["key"]!;
        var operatorKey = (string)(await NewKeyAsync("operator", "default"))["key"]!;
        foreach (var (method, path, _) in Endpoints().Where(e => !e.Anonymous))
        {
            var reads = method is "GET" or "HEAD";
            var keys = path.StartsWith("/v1/api-keys", StringComparison.Ordinal) ? [viewer, operatorKey] : reads ? Array.Empty<string>() : [viewer];
            foreach (var key in keys)
                await AssertProblemAsync(await SendAsync(method, path, key), HttpStatusCode.Forbidden, "AccessDenied");
            if (reads && !path.StartsWith("/v1/api-keys", StringComparison.Ordinal))
                Assert.NotEqual(HttpStatusCode.Forbidden, (await SendAsync(method, path, viewer)).StatusCode);
        }
    }

    [Fact]
    public async Task Health_swagger_and_the_document_need_no_key()
    {
        foreach (var path in new[] { "/healthz", "/readyz", "/swagger/index.html", "/openapi/v1.json" })
            Assert.NotEqual(HttpStatusCode.Unauthorized, (await SendAsync("GET", path, null)).StatusCode);
        var document = await (await SendAsync("GET", "/openapi/v1.json", null)).Content.ReadAsStringAsync();
        Assert.Contains("\"securitySchemes\"", document);
        Assert.Contains("\"scheme\": \"bearer\"", document);
    }

    [Fact]
    public async Task A_revoked_key_stops_working_on_the_next_request()
    {
        var key = await NewKeyAsync("operator", "default");
        Assert.Equal(HttpStatusCode.OK, (await SendAsync("GET", "/v1/replication-groups", (string)key["key"]!)).StatusCode);
        var listed = await BodyAsync(await Client.GetAsync("/v1/api-keys"));
        var row = listed["items"]!.AsArray().Single(k => (string?)k!["keyId"] == (string?)key["keyId"])!;
        Assert.Null(row["key"]); // never shown again
        Assert.DoesNotContain((string)key["key"]!, listed.ToJsonString());

        await AssertRevokedAsync(key);
        await AssertProblemAsync(await SendAsync("GET", "/v1/replication-groups", (string)key["key"]!), HttpStatusCode.Unauthorized, "InvalidApiKey");

        // Both changes are events of the key, naming the admin key that made them.
        var events = (await BodyAsync(await Client.GetAsync($"/v1/events?sourceType=api-key&sourceId={(string)key["keyId"]!}")))["items"]!.AsArray();
        Assert.Equal([$"API key {(string)key["keyId"]!} (operator of default, operator) revoked", $"API key {(string)key["keyId"]!} (operator of default, operator) created"],
            events.Select(e => (string)e!["message"]!));
        Assert.All(events, e => Assert.Equal(TestKeys.AdminKeyId, (string?)e!["principal"]));
        Assert.Equal(1, await CountAsync(db => db.ApiKeys.Where(k => k.KeyId == (string)key["keyId"]! && k.RevokedAt != null)));
    }

    [Fact]
    public async Task Only_a_hash_of_the_secret_is_stored()
    {
        var key = await NewKeyAsync("viewer", "default");
        await using var db = Factory.NewDbContext();
        var row = db.ApiKeys.Single(k => k.KeyId == (string)key["keyId"]!);
        var secret = ((string)key["key"]!).Split('_')[2];
        Assert.DoesNotContain(secret, row.SecretHash);
        Assert.StartsWith("hmac-sha256$", row.SecretHash);
    }

    [Theory]
    [InlineData("Basic dXNlcjpwYXNz")]
    [InlineData("Bearer")]
    [InlineData("Bearer cpk_")]
    [InlineData("Bearer cpk_00000000ad01_short")]
    [InlineData("Bearer cpk_00000000ad01_" + "5ec2e75ec2e75ec2e75ec2e75ec2e75ec2e75ec2e75ec2e75ec2e75ec2e7aaab")]
    [InlineData("Bearer cpk_0000000000ad01_5ec2e75ec2e75ec2e75ec2e75ec2e75ec2e75ec2e75ec2e75ec2e75ec2e7aaaa")]
    public async Task A_bad_authorization_header_is_401_with_problem_details(string header)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, "/v1/replication-groups");
        request.Headers.TryAddWithoutValidation("Authorization", header);
        using var client = Factory.CreateClient();
        client.DefaultRequestHeaders.Authorization = null;
        var response = await client.SendAsync(request);
        await AssertProblemAsync(response, HttpStatusCode.Unauthorized, "InvalidApiKey");
        Assert.Equal("Bearer", response.Headers.WwwAuthenticate.Single().Scheme);
    }

    [Fact]
    public async Task A_huge_authorization_header_is_401_and_never_looked_up()
    {
        var response = await SendAsync("GET", "/v1/events", "cpk_" + new string('a', 16 * 1024));
        await AssertProblemAsync(response, HttpStatusCode.Unauthorized, "InvalidApiKey");
    }

    [Fact]
    public async Task Creating_a_key_checks_its_fields_and_shows_the_key_once()
    {
        await AssertProblemAsync(await PostAsync("/v1/api-keys", new { name = "", role = "viewer" }), HttpStatusCode.BadRequest, "InvalidParameterValue", "name");
        await AssertProblemAsync(await PostAsync("/v1/api-keys", new { name = "ci" }), HttpStatusCode.BadRequest, "InvalidParameterValue", "role");
        await AssertProblemAsync(await PostAsync("/v1/api-keys", new { name = "ci", role = "viewer", tenant = "Bad--Tenant" }), HttpStatusCode.BadRequest, "InvalidParameterValue", "tenant");
        var created = await PostAsync("/v1/api-keys", new { name = "ci", role = "operator", tenant = "team-a" });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var body = await BodyAsync(created);
        Assert.Matches("^cpk_[0-9a-f]{12}_[0-9a-f]{64}$", (string)body["key"]!);
        Assert.Equal("team-a", (string?)body["tenant"]);
        Assert.Equal("operator", (string?)body["role"]);
        await AssertProblemAsync(await Client.DeleteAsync("/v1/api-keys/000000000000"), HttpStatusCode.NotFound, "ApiKeyNotFound");
        await AssertProblemAsync(await Client.DeleteAsync($"/v1/api-keys/{TestKeys.AdminKeyId}"), HttpStatusCode.Conflict, "InvalidApiKeyState");
    }

    [Fact]
    public async Task Secrets_never_reach_the_log_and_a_refused_key_is_logged_by_its_id_only()
    {
        var lines = new ConcurrentQueue<string>();
        await using var factory = Factory.WithWebHostBuilder(b => b.ConfigureLogging(l => l.SetMinimumLevel(LogLevel.Trace).AddProvider(new CapturingLoggerProvider(lines))));
        using var client = factory.CreateClient();
        async Task<HttpResponseMessage> Send(HttpMethod method, string path, string? key, object? body = null)
        {
            var request = new HttpRequestMessage(method, path) { Content = body is null ? null : Json(body) };
            request.Headers.Authorization = key is null ? null : new AuthenticationHeaderValue("Bearer", key);
            return await client.SendAsync(request);
        }

        var created = await BodyAsync(await Send(HttpMethod.Post, "/v1/api-keys", TestKeys.Admin, new { name = "logged", role = "operator", tenant = "logs" }));
        var key = (string)created["key"]!;
        await Send(HttpMethod.Get, "/v1/replication-groups", key);
        const string authToken = "a-secret-token-1234567890";
        await Send(HttpMethod.Post, "/v1/replication-groups", key, new { id = "tokened", transitEncryption = true, authToken });
        var wrong = $"cpk_{(string)created["keyId"]!}_{new string('f', 64)}";
        await Send(HttpMethod.Get, "/v1/replication-groups", wrong);
        await Send(HttpMethod.Get, "/v1/replication-groups", "cpk_malformed_secretpart");
        await Send(HttpMethod.Delete, $"/v1/api-keys/{(string)created["keyId"]!}", TestKeys.Admin);
        await Send(HttpMethod.Get, "/v1/replication-groups", key);

        var log = string.Join('\n', lines);
        Assert.NotEmpty(lines);
        foreach (var secret in new[] { key.Split('_')[2], TestKeys.AdminSecret, new string('f', 64), "secretpart", authToken })
            Assert.DoesNotContain(secret, log);
        Assert.Contains($"Refused API key {(string)created["keyId"]!}", log);
    }

    private async Task AssertRevokedAsync(JsonObject key)
    {
        var revoked = await Client.DeleteAsync($"/v1/api-keys/{(string)key["keyId"]!}");
        Assert.Equal(HttpStatusCode.OK, revoked.StatusCode);
        Assert.NotNull((await BodyAsync(revoked))["revokedAt"]);
    }

    private sealed record Endpoint(string Method, string Path, bool Anonymous);

    /// <summary>Every routed endpoint of the host, with "x" for each route parameter: new endpoints are covered without listing them here.</summary>
    private IEnumerable<Endpoint> Endpoints() =>
        Factory.Services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>()
            .SelectMany(e => (e.Metadata.GetMetadata<HttpMethodMetadata>()?.HttpMethods ?? ["GET"]).Select(m => new Endpoint(
                m, "/" + string.Join('/', e.RoutePattern.PathSegments.Select(s => s.IsSimple && s.Parts[0] is Microsoft.AspNetCore.Routing.Patterns.RoutePatternLiteralPart l ? l.Content : "x")),
                e.Metadata.GetMetadata<IAllowAnonymous>() is not null)));
}

/// <summary>Tenants: same ids, separate worlds.</summary>
public sealed class TenantTests(PostgresFixture postgres) : ApiTest(postgres)
{
    protected override IReadOnlyDictionary<string, string?>? Settings => new Dictionary<string, string?> { ["ControlPlane:TenantNodeQuota"] = "10" };

    [Fact]
    public async Task Two_tenants_with_the_same_ids_see_only_their_own_resources_snapshots_and_events()
    {
        var keys = new Dictionary<string, string>();
        foreach (var tenant in new[] { "acme", "globex" })
        {
            var key = (string)(await NewKeyAsync("operator", tenant))["key"]!;
            keys[tenant] = key;
            await AssertAcceptedAsync(await SendAsync("POST", "/v1/replication-groups", key, new { id = "orders", replicasPerShard = 1, description = tenant }));
            await AssertAcceptedAsync(await SendAsync("POST", "/v1/cache-clusters", key, new { id = "sessions", engine = "memcached", numNodes = 2 }));
            await MarkAvailableAsync(TenantNames.Internal(tenant, "orders"));
            await AssertAcceptedAsync(await SendAsync("POST", "/v1/snapshots", key, new { name = "nightly", replicationGroupId = "orders" }));
        }

        foreach (var (tenant, key) in keys)
        {
            var group = await BodyAsync(await SendAsync("GET", "/v1/replication-groups/orders", key));
            Assert.Equal(tenant, (string?)group["description"]);
            Assert.Equal("orders", (string?)group["id"]);
            Assert.Equal(["orders-0001-001", "orders-0001-002"], group["shards"]![0]!["nodes"]!.AsArray().Select(n => (string)n!["id"]!).Order());
            var groups = (await BodyAsync(await SendAsync("GET", "/v1/replication-groups", key)))["items"]!.AsArray();
            Assert.Equal(tenant, (string?)groups.Single()!["description"]);
            var clusters = (await BodyAsync(await SendAsync("GET", "/v1/cache-clusters", key)))["items"]!.AsArray();
            Assert.Equal(["sessions-0001", "sessions-0002"], clusters.Single()!["nodes"]!.AsArray().Select(n => (string)n!["id"]!).Order());
            var snapshots = (await BodyAsync(await SendAsync("GET", "/v1/snapshots?replicationGroupId=orders", key)))["items"]!.AsArray();
            Assert.Equal("nightly", (string?)snapshots.Single()!["name"]);
            Assert.Equal("orders", (string?)snapshots.Single()!["replicationGroupId"]);
            Assert.Equal("nightly", (string?)(await BodyAsync(await SendAsync("GET", "/v1/snapshots/nightly", key)))["name"]);
            // Problems name the ids as the tenant knows them too.
            var busy = await AssertProblemAsync(await SendAsync("PATCH", "/v1/replication-groups/orders", key, new { description = "x" }),
                HttpStatusCode.Conflict, "InvalidReplicationGroupState");
            Assert.Equal("Replication group orders is snapshotting, not available.", (string?)busy["detail"]);
            var all = (await BodyAsync(await SendAsync("GET", "/v1/events", key)))["items"]!.AsArray();
            Assert.Equal("api-key", (string?)all.Single(e => (string?)e!["principal"] == TestKeys.AdminKeyId)!["sourceType"]); // its own key's creation
            var events = all.Where(e => (string?)e!["sourceType"] != "api-key").ToList();
            Assert.Equal(3, events.Count);
            Assert.Contains(events, e => (string?)e!["message"] == "Replication group orders creation requested: 1 shard(s) of 2 node(s), cluster mode disabled");
            Assert.All(events, e => Assert.DoesNotContain("--", (string)e!["message"]! + (string)e["sourceId"]!));
            var own = (await BodyAsync(await Client.GetAsync("/v1/api-keys")))["items"]!.AsArray()
                .Single(k => (string?)k!["tenant"] == tenant)!;
            Assert.All(events, e => Assert.Equal((string?)own["keyId"], (string?)e!["principal"]));
        }

        // A third tenant sees nothing of either: 404, as if nothing existed.
        var stranger = (string)(await NewKeyAsync("operator", "initech"))["key"]!;
        await AssertProblemAsync(await SendAsync("GET", "/v1/replication-groups/orders", stranger), HttpStatusCode.NotFound, "ReplicationGroupNotFound");
        await AssertProblemAsync(await SendAsync("PATCH", "/v1/replication-groups/orders", stranger, new { description = "x" }), HttpStatusCode.NotFound, "ReplicationGroupNotFound");
        await AssertProblemAsync(await SendAsync("DELETE", "/v1/replication-groups/orders", stranger), HttpStatusCode.NotFound, "ReplicationGroupNotFound");
        await AssertProblemAsync(await SendAsync("POST", "/v1/replication-groups/orders/test-failover", stranger, new { shardId = "0001" }), HttpStatusCode.NotFound, "ReplicationGroupNotFound");
        await AssertProblemAsync(await SendAsync("GET", "/v1/cache-clusters/sessions", stranger), HttpStatusCode.NotFound, "CacheClusterNotFound");
        await AssertProblemAsync(await SendAsync("DELETE", "/v1/cache-clusters/sessions", stranger), HttpStatusCode.NotFound, "CacheClusterNotFound");
        await AssertProblemAsync(await SendAsync("GET", "/v1/snapshots/nightly", stranger), HttpStatusCode.NotFound, "SnapshotNotFound");
        await AssertProblemAsync(await SendAsync("POST", "/v1/snapshots/nightly/copy", stranger, new { targetName = "mine" }), HttpStatusCode.NotFound, "SnapshotNotFound");
        await AssertProblemAsync(await SendAsync("POST", "/v1/snapshots", stranger, new { name = "theirs", replicationGroupId = "orders" }), HttpStatusCode.NotFound, "ReplicationGroupNotFound");
        await AssertProblemAsync(await SendAsync("POST", "/v1/replication-groups", stranger, new { id = "copy", restoreFromSnapshot = "nightly" }), HttpStatusCode.NotFound, "SnapshotNotFound");
        foreach (var list in new[] { "/v1/replication-groups", "/v1/cache-clusters", "/v1/snapshots", "/v1/events?sourceId=orders", "/v1/events?sourceType=replication-group" })
            Assert.Empty((await BodyAsync(await SendAsync("GET", list, stranger)))["items"]!.AsArray());
        Assert.All((await BodyAsync(await SendAsync("GET", "/v1/events", stranger)))["items"]!.AsArray(), e => Assert.Equal("api-key", (string?)e!["sourceType"]));
        // ?tenant= is an admin's: another key's is ignored.
        Assert.Empty((await BodyAsync(await SendAsync("GET", "/v1/replication-groups?tenant=acme", stranger)))["items"]!.AsArray());
        await AssertProblemAsync(await SendAsync("POST", "/v1/replication-groups", stranger, new { id = "planted", tenant = "acme" }), HttpStatusCode.Forbidden, "AccessDenied");

        // The admin reaches every tenant by naming it.
        Assert.Equal("globex", (string?)(await BodyAsync(await Client.GetAsync("/v1/replication-groups/orders?tenant=globex")))["description"]);
        Assert.Empty((await BodyAsync(await Client.GetAsync("/v1/replication-groups")))["items"]!.AsArray());
        await AssertAcceptedAsync(await PostAsync("/v1/cache-clusters", new { id = "ops", engine = "memcached", tenant = "acme" }));
        await AssertProblemAsync(await PostAsync("/v1/cache-clusters?tenant=a--b", new { id = "ops", engine = "memcached" }), HttpStatusCode.BadRequest, "InvalidParameterValue", "tenant");
        await AssertProblemAsync(await PostAsync("/v1/cache-clusters", new { id = "ops", engine = "memcached", tenant = new string('t', 21) }), HttpStatusCode.BadRequest, "InvalidParameterValue", "tenant");
        Assert.Equal(2, (await BodyAsync(await SendAsync("GET", "/v1/cache-clusters", keys["acme"])))["items"]!.AsArray().Count);
    }

    [Fact]
    public async Task Idempotency_keys_of_two_tenants_do_not_meet()
    {
        var acme = (string)(await NewKeyAsync("operator", "acme"))["key"]!;
        var globex = (string)(await NewKeyAsync("operator", "globex"))["key"]!;
        foreach (var key in new[] { acme, globex })
        {
            var request = new HttpRequestMessage(HttpMethod.Post, "/v1/cache-clusters") { Content = Json(new { id = "c", engine = "memcached" }) };
            request.Headers.Add("Idempotency-Key", "same");
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
            var response = await Client.SendAsync(request);
            await AssertAcceptedAsync(response);
            Assert.False(response.Headers.Contains("Idempotent-Replayed"));
        }
        Assert.Equal(2, await CountAsync(db => db.CacheClusters));
    }

    [Fact]
    public async Task A_tenant_is_held_to_its_node_quota()
    {
        var key = (string)(await NewKeyAsync("operator", "small"))["key"]!;
        await AssertAcceptedAsync(await SendAsync("POST", "/v1/replication-groups", key, new { id = "six", replicasPerShard = 5 }));
        await AssertAcceptedAsync(await SendAsync("POST", "/v1/cache-clusters", key, new { id = "four", engine = "memcached", numNodes = 4 }));
        await AssertProblemAsync(await SendAsync("POST", "/v1/cache-clusters", key, new { id = "one", engine = "memcached" }), HttpStatusCode.BadRequest, "NodeQuotaForCustomerExceeded");
        await MarkClusterAvailableAsync(TenantNames.Internal("small", "four"));
        await AssertProblemAsync(await SendAsync("PATCH", "/v1/cache-clusters/four", key, new { numNodes = 5 }), HttpStatusCode.BadRequest, "NodeQuotaForCustomerExceeded");
        // Another tenant has a quota of its own.
        await AssertAcceptedAsync(await PostAsync("/v1/cache-clusters", new { id = "one", engine = "memcached" }));
    }
}
