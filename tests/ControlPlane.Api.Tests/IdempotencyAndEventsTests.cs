using System.Net;
using System.Text.Json.Nodes;
using ControlPlane.Api.Tests.Infrastructure;
using ControlPlane.Domain;
using Microsoft.EntityFrameworkCore;

namespace ControlPlane.Api.Tests;

public sealed class IdempotencyTests(PostgresFixture postgres) : ApiTest(postgres)
{
    private Task<HttpResponseMessage> PostWithKeyAsync(string path, string json, string key)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = Json(json) };
        request.Headers.Add("Idempotency-Key", key);
        return Client.SendAsync(request);
    }

    [Fact]
    public async Task The_same_key_and_body_replay_the_first_answer_even_after_a_restart()
    {
        var first = await PostWithKeyAsync("/v1/replication-groups", "{\"id\":\"idem\",\"replicasPerShard\":2}", "key-1");
        var firstBody = await first.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.Accepted, first.StatusCode);

        // Whitespace does not make another body.
        var again = await PostWithKeyAsync("/v1/replication-groups", "{ \"id\": \"idem\", \"replicasPerShard\": 2 }", "key-1");
        Assert.Equal(HttpStatusCode.Accepted, again.StatusCode);
        Assert.Equal(firstBody, await again.Content.ReadAsStringAsync());
        Assert.Equal(first.Headers.Location, again.Headers.Location);
        Assert.Equal(first.Headers.ETag, again.Headers.ETag);

        // A new host process on the same database still knows the key.
        await Factory.DisposeAsync();
        Factory = new ApiFactory(ConnectionString);
        Client = Factory.CreateClient();
        var afterRestart = await PostWithKeyAsync("/v1/replication-groups", "{\"id\":\"idem\",\"replicasPerShard\":2}", "key-1");
        Assert.Equal(HttpStatusCode.Accepted, afterRestart.StatusCode);
        Assert.Equal(firstBody, await afterRestart.Content.ReadAsStringAsync());

        Assert.Equal(1, await CountAsync(db => db.ReplicationGroups.Where(g => g.Id == "idem")));
        Assert.Equal(1, await CountAsync(db => db.Events.Where(e => e.SourceId == "idem")));
    }

    [Fact]
    public async Task The_same_key_with_another_body_is_422()
    {
        Assert.Equal(HttpStatusCode.Accepted, (await PostWithKeyAsync("/v1/cache-clusters", "{\"id\":\"idem-mc\",\"engine\":\"memcached\"}", "key-2")).StatusCode);
        await AssertProblemAsync(await PostWithKeyAsync("/v1/cache-clusters", "{\"id\":\"idem-mc\",\"engine\":\"memcached\",\"numNodes\":2}", "key-2"),
            (HttpStatusCode)422, ErrorCodes.IdempotencyKeyReused);
        await AssertProblemAsync(await PostWithKeyAsync("/v1/replication-groups", "{\"id\":\"idem-mc\"}", "key-2"),
            (HttpStatusCode)422, ErrorCodes.IdempotencyKeyReused);
    }

    [Fact]
    public async Task Without_a_key_an_existing_id_is_409()
    {
        await AssertAcceptedAsync(await PostAsync("/v1/replication-groups", new { id = "twice" }));
        await AssertProblemAsync(await PostAsync("/v1/replication-groups", new { id = "TWICE" }), HttpStatusCode.Conflict, ErrorCodes.ReplicationGroupAlreadyExists);
        await AssertAcceptedAsync(await PostAsync("/v1/cache-clusters", new { id = "twice", engine = "memcached" }));
        await AssertProblemAsync(await PostAsync("/v1/cache-clusters", new { id = "twice", engine = "memcached" }), HttpStatusCode.Conflict, ErrorCodes.CacheClusterAlreadyExists);
    }

    [Fact]
    public async Task A_refused_request_does_not_burn_its_key()
    {
        await AssertProblemAsync(await PostWithKeyAsync("/v1/replication-groups", "{\"id\":\"keyed\",\"replicasPerShard\":9}", "key-3"),
            HttpStatusCode.BadRequest, ErrorCodes.InvalidParameterValue, "replicasPerShard");
        Assert.Equal(0, await CountAsync(db => db.IdempotencyRecords));
    }
}

public sealed class EventsTests(PostgresFixture postgres) : ApiTest(postgres)
{
    [Fact]
    public async Task Every_accepted_create_modify_and_delete_writes_an_event()
    {
        await AssertAcceptedAsync(await PostAsync("/v1/replication-groups", new { id = "ev" }));
        await MarkAvailableAsync("ev");
        await AssertAcceptedAsync(await PatchAsync("/v1/replication-groups/ev", new { description = "d" }));
        await AssertAcceptedAsync(await Client.DeleteAsync("/v1/replication-groups/ev"));
        await AssertAcceptedAsync(await PostAsync("/v1/cache-clusters", new { id = "ev-mc", engine = "memcached" }));

        var events = (await BodyAsync(await Client.GetAsync("/v1/events?sourceType=replication-group&sourceId=ev")))["items"]!.AsArray();
        Assert.Equal(
            ["Replication group ev deletion requested", "Modification requested for replication group ev: description", "Replication group ev creation requested: 1 shard(s) of 2 node(s), cluster mode disabled"],
            events.Select(e => (string)e!["message"]!));
        Assert.All(events, e => Assert.Equal("replication-group", (string?)e!["sourceType"]));
        var clusterEvents = (await BodyAsync(await Client.GetAsync("/v1/events?sourceType=cache-cluster")))["items"]!.AsArray();
        Assert.Equal("ev-mc", (string?)Assert.Single(clusterEvents)!["sourceId"]);
    }

    [Fact]
    public async Task Events_page_newest_first_within_the_window()
    {
        for (var i = 0; i < 5; i++)
        {
            await AssertAcceptedAsync(await PostAsync("/v1/cache-clusters", new { id = $"win-{i}", engine = "memcached" }));
            Factory.Clock.Advance(TimeSpan.FromMinutes(20));
        }
        // The clock is now 100 minutes after the first create: the default hour holds the last three.
        var recent = (await BodyAsync(await Client.GetAsync("/v1/events")))["items"]!.AsArray();
        Assert.Equal(["win-4", "win-3", "win-2"], recent.Select(e => (string)e!["sourceId"]!));

        var since = Uri.EscapeDataString(Factory.Clock.GetUtcNow().AddHours(-3).ToString("O"));
        var seen = new List<string>();
        string? cursor = null;
        do
        {
            var page = await BodyAsync(await Client.GetAsync($"/v1/events?since={since}&limit=2{(cursor is null ? "" : $"&cursor={cursor}")}"));
            seen.AddRange(page["items"]!.AsArray().Select(e => (string)e!["sourceId"]!));
            cursor = (string?)page["nextCursor"];
        } while (cursor is not null);
        Assert.Equal(["win-4", "win-3", "win-2", "win-1", "win-0"], seen);

        var until = Uri.EscapeDataString(Factory.Clock.GetUtcNow().AddMinutes(-70).ToString("O"));
        var early = (await BodyAsync(await Client.GetAsync($"/v1/events?since={since}&until={until}")))["items"]!.AsArray();
        Assert.Equal(["win-1", "win-0"], early.Select(e => (string)e!["sourceId"]!));
    }

    [Fact]
    public async Task Events_older_than_14_days_are_not_returned()
    {
        await AssertAcceptedAsync(await PostAsync("/v1/cache-clusters", new { id = "old", engine = "memcached" }));
        Factory.Clock.Advance(TimeSpan.FromDays(15));
        var since = Uri.EscapeDataString(Factory.Clock.GetUtcNow().AddDays(-30).ToString("O"));
        Assert.Empty((await BodyAsync(await Client.GetAsync($"/v1/events?since={since}")))["items"]!.AsArray());
    }

    [Fact]
    public async Task A_bad_source_type_is_400() =>
        await AssertProblemAsync(await Client.GetAsync("/v1/events?sourceType=planet"), HttpStatusCode.BadRequest, ErrorCodes.InvalidParameterValue, "sourceType");
}

public sealed class IdempotencyUnderConcurrencyTests(PostgresFixture postgres) : ApiTest(postgres)
{
    private Task<HttpResponseMessage> PostWithKeyAsync(string path, string json, string key)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = Json(json) };
        request.Headers.Add("Idempotency-Key", key);
        return Client.SendAsync(request);
    }

    [Fact]
    public async Task Twenty_parallel_creates_with_one_key_all_replay_the_first_answer()
    {
        var answers = await Task.WhenAll(Enumerable.Range(0, 20).Select(_ => PostWithKeyAsync("/v1/replication-groups", "{\"id\":\"burst\"}", "burst-key")));
        var bodies = await Task.WhenAll(answers.Select(a => a.Content.ReadAsStringAsync()));
        Assert.All(answers, a => Assert.Equal(HttpStatusCode.Accepted, a.StatusCode));
        Assert.Single(bodies.Distinct());
        Assert.Equal(19, answers.Count(a => a.Headers.Contains("Idempotent-Replayed")));
        Assert.Equal(1, await CountAsync(db => db.ReplicationGroups));
        Assert.Equal(1, await CountAsync(db => db.Events));
    }

    [Fact]
    public async Task One_key_with_different_bodies_in_parallel_is_one_create_and_422s()
    {
        var answers = await Task.WhenAll(Enumerable.Range(0, 10).Select(i => PostWithKeyAsync("/v1/cache-clusters", $"{{\"id\":\"race-{i}\",\"engine\":\"memcached\"}}", "race-key")));
        Assert.Single(answers, a => a.StatusCode == HttpStatusCode.Accepted);
        foreach (var answer in answers.Where(a => a.StatusCode != HttpStatusCode.Accepted))
            await AssertProblemAsync(answer, (HttpStatusCode)422, ErrorCodes.IdempotencyKeyReused);
        Assert.Equal(1, await CountAsync(db => db.CacheClusters));
    }

    [Fact]
    public async Task A_key_is_forgotten_after_24_hours()
    {
        await AssertAcceptedAsync(await PostWithKeyAsync("/v1/replication-groups", "{\"id\":\"old-key\"}", "day-key"));
        await MarkAvailableAsync("old-key");
        await AssertAcceptedAsync(await Client.DeleteAsync("/v1/replication-groups/old-key"));
        await using (var db = Factory.NewDbContext())
            await db.ReplicationGroups.Where(g => g.Id == "old-key").ExecuteDeleteAsync(); // the reconciler's part

        Factory.Clock.Advance(TimeSpan.FromHours(24) + TimeSpan.FromSeconds(1));
        var again = await PostWithKeyAsync("/v1/replication-groups", "{\"id\":\"old-key\"}", "day-key");
        await AssertAcceptedAsync(again);
        Assert.False(again.Headers.Contains("Idempotent-Replayed"));
        Assert.Equal(1, await CountAsync(db => db.ReplicationGroups));
        // Within the new day the key replays the new answer.
        Assert.True((await PostWithKeyAsync("/v1/replication-groups", "{\"id\":\"old-key\"}", "day-key")).Headers.Contains("Idempotent-Replayed"));
    }

    [Fact]
    public async Task The_same_key_on_another_endpoint_is_422()
    {
        await AssertAcceptedAsync(await PostWithKeyAsync("/v1/replication-groups", "{\"id\":\"shared\"}", "path-key"));
        await AssertProblemAsync(await PostWithKeyAsync("/v1/cache-clusters", "{\"id\":\"shared\",\"engine\":\"memcached\"}", "path-key"),
            (HttpStatusCode)422, ErrorCodes.IdempotencyKeyReused);
    }
}
