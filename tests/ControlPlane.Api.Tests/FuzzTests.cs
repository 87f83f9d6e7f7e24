using System.Collections.Concurrent;
using System.Net;
using System.Reflection;
using System.Text;
using System.Text.Json.Nodes;
using ControlPlane.Api.Tests.Infrastructure;
using ControlPlane.Domain;
using ControlPlane.Domain.Planning;
using Microsoft.EntityFrameworkCore;
using Npgsql;
using Xunit.Abstractions;

namespace ControlPlane.Api.Tests;

/// <summary>
/// A hostile client, seeded and bounded: requests generated over every endpoint and field (wrong
/// types, ranges, encodings, control characters, duplicate keys, headers, methods, paths), sent
/// to the real API on a real Postgres. Every answer must be below 500, every error a problem with
/// a known code (400 validation problems name their fields), a refused change must leave the
/// database exactly as it was, and creates with one Idempotency-Key sent 20 at a time must all
/// replay the first answer. CONTROLPLANE_FUZZ_SEED and CONTROLPLANE_FUZZ_REQUESTS change the run.
/// </summary>
public sealed class FuzzTests(PostgresFixture postgres, ITestOutputHelper output) : ApiTest(postgres)
{
    private static readonly HashSet<string> KnownCodes = typeof(ErrorCodes)
        .GetFields(BindingFlags.Public | BindingFlags.Static).Select(f => (string)f.GetValue(null)!).ToHashSet();

    private static int Seed => int.TryParse(Environment.GetEnvironmentVariable("CONTROLPLANE_FUZZ_SEED"), out var s) ? s : 20261126;
    private static int Requests => int.TryParse(Environment.GetEnvironmentVariable("CONTROLPLANE_FUZZ_REQUESTS"), out var n) ? n : 1200;

    private readonly ConcurrentDictionary<string, int> _byStatus = new();
    private readonly ConcurrentDictionary<string, int> _byCode = new();
    private int _sent;
    private int _refusedChanges;

    [Fact]
    public async Task A_hostile_client_gets_no_5xx_only_known_problems_and_refusals_store_nothing()
    {
        var random = new Random(Seed);
        await SeedResourcesAsync();
        var generator = new RequestGenerator(random);
        for (var i = 0; i < Requests; i++)
        {
            var request = generator.Next();
            var mutates = request.Method != HttpMethod.Get;
            var before = mutates ? await StateAsync() : null;
            var (status, body) = await SendAndCheckAsync(request);
            if (mutates && status >= 400)
            {
                _refusedChanges++;
                Assert.True(before == await StateAsync(), $"refused {request.Describe()} ({status}: {body}) changed the database");
            }
            if (mutates && status < 300)
                await ResetAsync(); // back to a state where PATCH, DELETE and snapshots are allowed
        }

        // The same requests again, ten at a time: concurrency must not turn any of them into a 5xx.
        var parallel = Enumerable.Range(0, 200).Select(_ => generator.Next()).ToList();
        foreach (var batch in parallel.Chunk(10))
            await Task.WhenAll(batch.Select(SendAndCheckAsync));

        await IdempotentBurstsAsync(random);
        Report();
    }

    /// <summary>Valid creates, each sent 20 times at once with one key: one 202, replayed 19 times byte for byte.</summary>
    private async Task IdempotentBurstsAsync(Random random)
    {
        for (var round = 0; round < 5; round++)
        {
            var id = $"burst-{round}-{random.Next(1000)}";
            var (path, json) = round % 2 == 0
                ? ("/v1/replication-groups", $"{{\"id\":\"{id}\",\"replicasPerShard\":{random.Next(0, 3)},\"automaticFailover\":false,\"multiAz\":false}}")
                : ("/v1/cache-clusters", $"{{\"id\":\"{id}\",\"engine\":\"memcached\",\"numNodes\":{random.Next(1, 4)}}}");
            var key = $"burst-key-{Seed}-{round}";
            var answers = await Task.WhenAll(Enumerable.Range(0, 20).Select(_ =>
                SendAndCheckAsync(new FuzzRequest(HttpMethod.Post, path, json, Headers: [("Idempotency-Key", key)]))));
            Assert.All(answers, a => Assert.True(a.Status == 202, $"{a.Status}: {a.Body}"));
            Assert.Single(answers.Select(a => a.Body).Distinct());
        }
    }

    private async Task<(int Status, string Body)> SendAndCheckAsync(FuzzRequest fuzz)
    {
        using var message = fuzz.ToMessage();
        using var response = await Client.SendAsync(message);
        var body = await response.Content.ReadAsStringAsync();
        var status = (int)response.StatusCode;
        Interlocked.Increment(ref _sent);
        _byStatus.AddOrUpdate(status.ToString(), 1, (_, n) => n + 1);
        Assert.True(status < 500, $"{fuzz.Describe()} answered {status}: {body}");
        if (status >= 400)
        {
            Assert.True(response.Content.Headers.ContentType?.MediaType == "application/problem+json", $"{fuzz.Describe()} answered {status} without problem details: {body}");
            var problem = JsonNode.Parse(body)!.AsObject();
            var code = (string?)problem["code"];
            Assert.True(code is not null && KnownCodes.Contains(code), $"{fuzz.Describe()} answered the unknown code {code}: {body}");
            Assert.Equal(status, (int?)problem["status"]);
            if (code is ErrorCodes.InvalidParameterValue or ErrorCodes.InvalidParameterCombination)
                Assert.True(problem["errors"] is JsonObject { Count: > 0 }, $"{fuzz.Describe()}: a validation problem without its field: {body}");
            _byCode.AddOrUpdate($"{status} {code}", 1, (_, n) => n + 1);
        }
        return (status, body);
    }

    private async Task SeedResourcesAsync()
    {
        await AssertAcceptedAsync(await PostAsync("/v1/replication-groups", new { id = "fz-rg", replicasPerShard = 1, transitEncryption = true }));
        await AssertAcceptedAsync(await PostAsync("/v1/replication-groups", new { id = "fz-cme", clusterMode = "enabled", numShards = 2, replicasPerShard = 1 }));
        await AssertAcceptedAsync(await PostAsync("/v1/cache-clusters", new { id = "fz-mc", engine = "memcached", numNodes = 3 }));
        await ResetAsync();
        await AssertAcceptedAsync(await PostAsync("/v1/snapshots", new { name = "fz-snap", replicationGroupId = "fz-rg" }));
        await using var db = Factory.NewDbContext();
        await db.Snapshots.Where(s => s.Name == "fz-snap").ExecuteUpdateAsync(s => s.SetProperty(x => x.Status, SnapshotStatus.Available));
        await ResetAsync();
    }

    /// <summary>Plays the reconciler: what was accepted is done, so the next request finds every resource available.</summary>
    private async Task ResetAsync()
    {
        await using var db = Factory.NewDbContext();
        await db.ReplicationGroups.ExecuteUpdateAsync(s => s.SetProperty(g => g.Status, GroupStatus.Available).SetProperty(g => g.PendingChanges, (PendingChanges?)null));
        await db.CacheClusters.ExecuteUpdateAsync(s => s.SetProperty(c => c.Status, CacheClusterStatus.Available).SetProperty(c => c.PendingChanges, (PendingChanges?)null));
        await db.CacheNodes.Where(n => n.Status == NodeStatus.Deleting).ExecuteDeleteAsync();
        await db.Snapshots.Where(s => s.Status != SnapshotStatus.Available).ExecuteUpdateAsync(s => s.SetProperty(x => x.Status, SnapshotStatus.Available));
    }

    /// <summary>Every row that a request could have written, as one digest.</summary>
    private async Task<string> StateAsync()
    {
        await using var connection = new NpgsqlConnection(ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("""
            SELECT coalesce(md5(string_agg(t, '|' ORDER BY t)), '') FROM (
                SELECT 'g' || row(x.*)::text AS t FROM replication_groups x UNION ALL
                SELECT 'h' || row(x.*)::text FROM shards x UNION ALL
                SELECT 'n' || row(x.*)::text FROM redis_nodes x UNION ALL
                SELECT 'c' || row(x.*)::text FROM cache_clusters x UNION ALL
                SELECT 'm' || row(x.*)::text FROM cache_nodes x UNION ALL
                SELECT 's' || row(x.*)::text FROM snapshots x UNION ALL
                SELECT 'r' || row(x.*)::text FROM snapshot_requests x UNION ALL
                SELECT 'e' || row(x.*)::text FROM events x UNION ALL
                SELECT 'k' || row(x.*)::text FROM idempotency_keys x UNION ALL
                SELECT 'f' || row(x.*)::text FROM test_failovers x UNION ALL
                SELECT 'a' || row(x.*)::text FROM api_keys x) rows
            """, connection);
        return (string)(await command.ExecuteScalarAsync())!;
    }

    private void Report()
    {
        var statuses = string.Join(", ", _byStatus.OrderBy(s => s.Key).Select(s => $"{s.Value} x {s.Key}"));
        var codes = string.Join(", ", _byCode.OrderByDescending(c => c.Value).ThenBy(c => c.Key).Select(c => $"{c.Value} x {c.Key}"));
        var summary = $"fuzz: seed {Seed}, {_sent} requests ({Requests} sequential, 200 ten at a time, 5 x 20 idempotent); "
            + $"{_refusedChanges} refused changes stored nothing; no 5xx. Statuses: {statuses}. Problems: {codes}.";
        output.WriteLine(summary);
        Console.WriteLine(summary);
    }
}

/// <summary>One generated request; headers are added without validation so hostile ones reach the server.</summary>
public sealed record FuzzRequest(HttpMethod Method, string Path, string? Body, string ContentType = "application/json", (string Name, string Value)[]? Headers = null, byte[]? RawBody = null)
{
    public HttpRequestMessage ToMessage()
    {
        var message = new HttpRequestMessage(Method, Path);
        if (RawBody is not null || Body is not null)
        {
            message.Content = new ByteArrayContent(RawBody ?? Encoding.UTF8.GetBytes(Body!));
            message.Content.Headers.TryAddWithoutValidation("Content-Type", ContentType);
        }
        foreach (var (name, value) in Headers ?? [])
            message.Headers.TryAddWithoutValidation(name, value);
        return message;
    }

    public string Describe() => $"{Method} {(Path.Length > 120 ? Path[..120] + "..." : Path)} {(Body is { Length: > 200 } ? Body[..200] + "..." : Body)}"
        + string.Concat((Headers ?? []).Select(h => $" [{h.Name}: {(h.Value.Length > 40 ? h.Value[..40] + "..." : h.Value)}]"));
}

/// <summary>Valid requests for every endpoint, then one thing made hostile: a field's value, a key, the encoding, a header, the method or the path.</summary>
public sealed class RequestGenerator(Random random)
{
    private static readonly string[] HostileValues =
    [
        "null", "true", "false", "0", "-1", "1", "2", "3", "5", "6", "35", "36", "60", "61", "90", "91", "500", "501", "2147483648", "-2147483649",
        "1e400", "1.5", "-0", "1e2", "\"2\"", "\"\"", "\" \"", "\"a\\u0000b\"", "\"\\u0007\"", "\"x\\n\"", "\"\\t\"", "\"\\u00a0x\"",
        "\"Disabled\"", "\"ENABLED\"", "\"enabled\"", "\"disabled\"", "\"cross-az\"", "\"Cross-Az\"", "\"single-az\"", "\"\\u212Aelvin\"", "\" pad \"",
        "\"\\ud800\"", "\"\\udc00x\"", "\"😀\"", "\"\\u202eevil\"", "\"" + new string('x', 300) + "\"", "\"" + new string('y', 5000) + "\"",
        "[]", "[null]", "[1]", "[\"az-a\"]", "[\"az-a\",\"az-a\"]", "[\"nope\"]", "{}", "{\"a\":1}", new string('[', 20) + "1" + new string(']', 20),
        "\"2099-01-01\"", "\"2099-01-01T00:00:00+05:00\"", "\"2099-01-01T00:00:00Z\"", "\"1999-01-01T00:00:00Z\"", "\"2099-13-01T00:00:00Z\"",
        "\"2099-01-01 00:00:00Z\"", "\"not-a-time\"", "\"05:00-06:00\"", "\"05:00-06:00\\n\"", "\"05:00-05:30\"", "\"25:00-26:00\"",
        "\"0-16383\"", "\"0-100,200-300\"", "\"+0-16383\"", "\"0-16384\"", "\"az-a\"", "\"az-z\"", "\"cache.small\"", "\"cache.galactic\"",
        "\"7.0\"", "\"1.6\"", "\"memcached\"", "\"redis\"", "\"rotate\"", "\"Rotate\"", "\"set\"", "\"delete\"", "\"fz-rg\"", "\"fz-snap\"",
        "\"FZ-RG\"", "\"0001\"", "\"0009\"", "\"fz-mc-0001\"", "\"Abcdefgh12345678!&#$\"", "\"orders\"", "\"a--b\"", "\"a-\"",
        "\"" + new string('a', 41) + "\"", "\"" + new string('a', 51) + "\"",
    ];

    private static readonly string[] QueryValues =
    [
        "", "0", "1", "-1", "100", "101", "abc", "1e2", "%00", "a%00b", "%01", "AA", "Zm9v", "MTIz", "%FF%FE", "replication-group", "Replication-Group",
        "cache-cluster", "snapshot", "planet", "fz-rg", "FZ-RG", "%20fz-rg", "2030-01-01T00:00:00%2B05:00", "2030-01-01T00:00:00Z", "2030-01-01",
        "yesterday", "%E2%84%AA", "%C0%AF",
    ];

    private static readonly string[] Ids = ["fz-rg", "fz-cme", "fz-mc", "fz-snap", "nope", "FZ-RG", "%20fz-rg", "fz-rg%20", "%01", "a%2Fb", "%E2%84%AAx", new string('a', 60), "0001"];

    /// <summary>Missing schemes, malformed, unknown and oversized keys: all 401 with problem details.</summary>
    private static readonly string[] HostileAuthorizations =
    [
        "", "Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "bearer cpk_", "Bearer cpk_00000000ad01_", "Bearer cpk_000000000000_" + new string('0', 64),
        "Bearer cpk_00000000ad01_" + new string('0', 64), "Bearer " + new string('k', 6000), "Bearer cpk_\u0000", "Bearer \u00e9", "Digest x",
    ];

    private const string Placeholder = "__hostile__";

    private int _ids;

    public FuzzRequest Next()
    {
        var (method, path, body) = Valid();
        return random.Next(20) switch
        {
            0 => new FuzzRequest(method, path, body, ContentType: Pick(["text/plain", "application/xml", "application/json; charset=latin1", "", "application/x-www-form-urlencoded"])),
            1 => new FuzzRequest(method, path, body, RawBody: RawCorruption(body ?? "{}")),
            2 => new FuzzRequest(Pick([HttpMethod.Put, HttpMethod.Options, HttpMethod.Head, new HttpMethod("TRACE"), HttpMethod.Patch, HttpMethod.Delete]), path, body),
            3 => new FuzzRequest(HttpMethod.Get, Pick(["/v1", "/v1/", "/v2/replication-groups", "/v1/replication-groups/x/y/z", "/v1/planets", "/" + new string('p', 9000), "/v1/replication-groups/" + Pick(Ids) + "/nodes"]), null),
            4 => new FuzzRequest(method, path, body, Headers: [("Idempotency-Key", Pick(["", " ", new string('k', 256), new string('k', 3000), "key with spaces", "k\u00e9y", $"k-{random.Next(5)}"]))]),
            5 => new FuzzRequest(method, path, body, Headers: [("If-Match", Pick(["\"1\"", "*", "W/\"1\"", "garbage", "\"99999999999\"", ""]))]),
            6 => new FuzzRequest(method, path, body, Headers: Enumerable.Range(0, random.Next(1, 10)).Select(i => ($"X-Fuzz-{i}", new string('h', 5000))).ToArray()),
            7 => new FuzzRequest(method, path, body, Headers: [("Authorization", Pick(HostileAuthorizations))]),
            < 14 when body is not null => new FuzzRequest(method, path, MutateField(body)),
            < 16 when body is not null => new FuzzRequest(method, path, MutateKey(body)),
            < 19 => new FuzzRequest(method, MutateQuery(path), body),
            _ => new FuzzRequest(method, path, body),
        };
    }

    private (HttpMethod, string, string?) Valid()
    {
        var id = $"fz-{_ids++}";
        return random.Next(18) switch
        {
            15 => (HttpMethod.Post, "/v1/api-keys", $"{{\"name\":\"{id}\",\"role\":\"{Pick(["viewer", "operator", "admin"])}\",\"tenant\":\"{Pick(["default", "fz-t"])}\"}}"),
            16 => (HttpMethod.Get, "/v1/api-keys?limit=2", null),
            17 => (HttpMethod.Delete, "/v1/api-keys/" + Pick(["000000000000", "00000000ad01", "nope", "%01", new string('f', 60)]), null),
            0 => (HttpMethod.Post, "/v1/replication-groups", $"{{\"id\":\"{id}\",\"description\":\"d\",\"engineVersion\":\"7.0\",\"nodeType\":\"cache.small\",\"clusterMode\":\"disabled\",\"numShards\":1,\"replicasPerShard\":1,\"automaticFailover\":true,\"multiAz\":true,\"transitEncryption\":false,\"snapshotRetentionLimit\":1,\"snapshotWindow\":\"05:00-06:00\",\"expiresAt\":\"2099-01-01T00:00:00Z\"}}"),
            1 => (HttpMethod.Post, "/v1/replication-groups", $"{{\"id\":\"{id}\",\"clusterMode\":\"enabled\",\"numShards\":2,\"replicasPerShard\":1,\"shards\":[{{\"slots\":\"0-8191\",\"primaryAz\":\"az-a\",\"replicaAzs\":[\"az-a\"]}},{{\"slots\":\"8192-16383\"}}],\"restoreFromSnapshot\":\"fz-snap\"}}"),
            2 => (HttpMethod.Patch, "/v1/replication-groups/fz-rg", Pick(["{\"description\":\"patched\"}", "{\"replicasPerShard\":2}", "{\"snapshotRetentionLimit\":3,\"snapshotWindow\":\"01:00-02:00\"}", "{\"expiresAt\":\"2099-06-01T00:00:00Z\"}", "{\"nodeType\":\"cache.medium\"}", "{\"authToken\":\"Abcdefgh12345678\",\"authTokenUpdateStrategy\":\"rotate\"}"])),
            3 => (HttpMethod.Patch, "/v1/replication-groups/fz-cme", Pick(["{\"numShards\":3}", "{\"numShards\":2}", "{\"multiAz\":false,\"automaticFailover\":true}"])),
            4 => (HttpMethod.Delete, "/v1/replication-groups/" + Pick(Ids) + Pick(["", "?finalSnapshotName=final-" + id, "?finalSnapshotName=%00"]), null),
            5 => (HttpMethod.Post, "/v1/replication-groups/fz-rg/test-failover", Pick(["{\"shardId\":\"0001\"}", "{\"shardId\":\"0002\"}"])),
            6 => (HttpMethod.Post, "/v1/cache-clusters", $"{{\"id\":\"{id}\",\"engine\":\"memcached\",\"engineVersion\":\"1.6\",\"nodeType\":\"cache.small\",\"numNodes\":2,\"azMode\":\"single-az\",\"preferredAvailabilityZones\":[\"az-a\",\"az-a\"],\"expiresAt\":\"2099-01-01T00:00:00Z\"}}"),
            7 => (HttpMethod.Patch, "/v1/cache-clusters/fz-mc", Pick(["{\"numNodes\":4}", "{\"numNodes\":2,\"nodeIdsToRemove\":[\"fz-mc-0001\"]}", "{\"nodeType\":\"cache.large\"}", "{\"expiresAt\":null}"])),
            8 => (HttpMethod.Delete, "/v1/cache-clusters/" + Pick(Ids) + Pick(["", "?finalSnapshotName=x"]), null),
            9 => (HttpMethod.Post, "/v1/snapshots", $"{{\"name\":\"{id}\",\"replicationGroupId\":\"fz-rg\"}}"),
            10 => (HttpMethod.Post, "/v1/snapshots/fz-snap/copy", $"{{\"targetName\":\"{id}\"}}"),
            11 => (HttpMethod.Delete, "/v1/snapshots/" + Pick(Ids), null),
            12 => (HttpMethod.Get, Pick(["/v1/replication-groups", "/v1/cache-clusters", "/v1/snapshots"]) + "?limit=2", null),
            13 => (HttpMethod.Get, "/v1/events?sourceType=replication-group&sourceId=fz-rg&since=2020-01-01T00:00:00Z&until=2099-01-01T00:00:00Z", null),
            _ => (HttpMethod.Get, Pick(["/v1/replication-groups/", "/v1/cache-clusters/", "/v1/snapshots/"]) + Pick(Ids), null),
        };
    }

    /// <summary>One field of the body gets a hostile value (in a nested object or array now and then).</summary>
    private string MutateField(string body)
    {
        var node = JsonNode.Parse(body)!.AsObject();
        var target = node;
        if (node["shards"] is JsonArray { Count: > 0 } shards && random.Next(3) == 0 && shards[random.Next(shards.Count)] is JsonObject shard)
            target = shard;
        var keys = target.Select(p => p.Key).ToList();
        var key = keys.Count > 0 && random.Next(4) > 0 ? Pick(keys.ToArray()) : Pick(["id", "numShards", "replicasPerShard", "clusterMode", "azMode", "shards", "nodeIdsToRemove", "expiresAt", "authTokenUpdateStrategy", "preferredAvailabilityZones", "engine", "shardId", "name", "targetName", "tenant", "role"]);
        // Spliced in as text: some values (a lone surrogate) are JSON the client's own parser will not hold.
        target[key] = Placeholder;
        return node.ToJsonString().Replace($"\"{Placeholder}\"", Pick(HostileValues), StringComparison.Ordinal);
    }

    /// <summary>A key spelled otherwise, repeated, unknown or missing.</summary>
    private string MutateKey(string body)
    {
        var node = JsonNode.Parse(body)!.AsObject();
        var key = node.Select(p => p.Key).ToArray() is { Length: > 0 } keys ? Pick(keys) : "id";
        var value = node[key]?.ToJsonString() ?? "null";
        node.Remove(key);
        var rest = node.ToJsonString().TrimStart('{').TrimEnd('}');
        var comma = rest.Length > 0 ? "," : "";
        return random.Next(5) switch
        {
            0 => $"{{\"{key.ToUpperInvariant()}\":{value}{comma}{rest}}}",
            1 => $"{{\"{key}\":{value},\"{key}\":{value}{comma}{rest}}}",
            2 => $"{{\"{key}\":{value},\"port\":7000{comma}{rest}}}",
            3 => $"{{{rest}}}",
            _ => $"{{\"{key}\\u0000\":{value}{comma}{rest}}}",
        };
    }

    private byte[] RawCorruption(string body) => random.Next(8) switch
    {
        0 => [0xEF, 0xBB, 0xBF, .. Encoding.UTF8.GetBytes(body)],
        1 => Encoding.UTF8.GetBytes(body[..(body.Length / 2)]),
        2 => Encoding.UTF8.GetBytes(body + "garbage"),
        3 => Encoding.UTF8.GetBytes(Pick(["[]", "null", "42", "\"text\"", "", "{", "}", "{\"a\":1,}", "// comment\n{}", "{'id':'x'}"])),
        4 => [.. Encoding.UTF8.GetBytes(body[..^1]), .. ",\"x\":\""u8, 0xC3, 0x28, .. "\"}"u8],
        5 => Encoding.Unicode.GetBytes(body),
        6 => Encoding.UTF8.GetBytes(body.Replace("\"", "\"\u0000", StringComparison.Ordinal)),
        _ => Encoding.UTF8.GetBytes("{\"a\":" + new string('[', 64) + new string(']', 64) + "}"),
    };

    private string MutateQuery(string path)
    {
        var name = Pick(["limit", "cursor", "sourceType", "sourceId", "since", "until", "replicationGroupId", "finalSnapshotName", "unknown"]);
        var value = random.Next(10) == 0 ? new string('q', 9000) : Pick(QueryValues);
        var separator = path.Contains('?') ? "&" : "?";
        var repeat = random.Next(8) == 0 ? $"&{name}={value}" : "";
        return $"{path}{separator}{name}={value}{repeat}";
    }

    private T Pick<T>(T[] items) => items[random.Next(items.Length)];
}
