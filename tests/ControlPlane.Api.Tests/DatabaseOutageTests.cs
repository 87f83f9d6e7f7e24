using System.Diagnostics;
using System.Net;
using System.Text.Json.Nodes;
using ControlPlane.Api.Tests.Infrastructure;
using ControlPlane.Domain;
using ControlPlane.Migrations;

namespace ControlPlane.Api.Tests;

/// <summary>Postgres taken away under a running API: 503 problem details, nothing stored, recovery on its own.</summary>
public sealed class DatabaseOutageTests : IAsyncLifetime
{
    private PostgresServer _server = null!;
    private ApiFactory _factory = null!;
    private HttpClient _client = null!;

    public async Task InitializeAsync()
    {
        _server = await PostgresServer.StartAsync(); // its own server: stopping it must not disturb the other tests
        var connectionString = await _server.CreateDatabaseAsync("outage");
        await Migrator.MigrateAsync(connectionString, CancellationToken.None);
        _factory = new ApiFactory(connectionString);
        _client = _factory.CreateClient();
    }

    public async Task DisposeAsync()
    {
        await _factory.DisposeAsync();
        await _server.DisposeAsync();
    }

    [Fact]
    public async Task Requests_answer_503_while_the_database_is_down_and_work_again_after()
    {
        Assert.Equal(HttpStatusCode.Accepted, (await Post("before")).StatusCode);

        await _server.StopAsync();
        foreach (var response in new[] { await Post("during"), await _client.GetAsync("/v1/replication-groups"), await _client.GetAsync("/v1/replication-groups/before") })
        {
            var text = await response.Content.ReadAsStringAsync();
            Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
            Assert.Equal(ErrorCodes.ServiceUnavailable, (string?)JsonNode.Parse(text)!["code"]);
            Assert.DoesNotContain("   at ", text); // no stack trace
        }
        Assert.Equal(HttpStatusCode.OK, (await _client.GetAsync("/healthz")).StatusCode);
        var ready = await _client.GetAsync("/readyz");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, ready.StatusCode);
        Assert.False((bool?)JsonNode.Parse(await ready.Content.ReadAsStringAsync())!["database"]);

        await _server.StartAgainAsync();
        var deadline = Stopwatch.StartNew();
        HttpResponseMessage after;
        do
        {
            after = await Post("after");
        } while (after.StatusCode == HttpStatusCode.ServiceUnavailable && deadline.Elapsed < TimeSpan.FromSeconds(30));
        Assert.Equal(HttpStatusCode.Accepted, after.StatusCode);
        Assert.True((bool?)JsonNode.Parse(await (await _client.GetAsync("/readyz")).Content.ReadAsStringAsync())!["database"]);

        var ids = JsonNode.Parse(await _client.GetStringAsync("/v1/replication-groups"))!["items"]!.AsArray().Select(g => (string)g!["id"]!);
        Assert.Equal(["after", "before"], ids);
    }

    [Fact]
    public async Task Creates_cut_off_by_a_shutdown_answer_202_or_503_never_500()
    {
        // Creates keep arriving (some with an Idempotency-Key, which opens its transaction early) while Postgres stops under them.
        using var stop = new CancellationTokenSource();
        var statuses = new System.Collections.Concurrent.ConcurrentBag<(HttpStatusCode Status, string Body)>();
        var clients = Enumerable.Range(0, 4).Select(c => Task.Run(async () =>
        {
            for (var i = 0; !stop.IsCancellationRequested && i < 400; i++)
            {
                var request = new HttpRequestMessage(HttpMethod.Post, "/v1/replication-groups")
                {
                    Content = new StringContent($"{{\"id\":\"cut-{c}-{i}\"}}", System.Text.Encoding.UTF8, "application/json"),
                };
                if (i % 2 == 0)
                    request.Headers.Add("Idempotency-Key", $"cut-{c}-{i}");
                var response = await _client.SendAsync(request);
                statuses.Add((response.StatusCode, await response.Content.ReadAsStringAsync()));
            }
        })).ToList();
        await Task.Delay(300);
        await _server.StopAsync();
        await Task.Delay(500);
        await stop.CancelAsync();
        await Task.WhenAll(clients);
        await _server.StartAgainAsync();

        Assert.Contains(statuses, s => s.Status == HttpStatusCode.ServiceUnavailable);
        Assert.All(statuses, s => Assert.True(s.Status is HttpStatusCode.Accepted or HttpStatusCode.ServiceUnavailable, $"{(int)s.Status}: {s.Body}"));
    }

    private Task<HttpResponseMessage> Post(string id) =>
        _client.PostAsync("/v1/replication-groups", new StringContent($"{{\"id\":\"{id}\"}}", System.Text.Encoding.UTF8, "application/json"));
}
