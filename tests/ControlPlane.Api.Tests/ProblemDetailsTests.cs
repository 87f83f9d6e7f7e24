using System.Net;
using ControlPlane.Api.Tests.Infrastructure;
using ControlPlane.Domain;

namespace ControlPlane.Api.Tests;

/// <summary>Every error the service sends is problem details with a contract code, the framework's own included.</summary>
public sealed class ProblemDetailsTests(PostgresFixture postgres) : ApiTest(postgres)
{
    [Fact]
    public async Task An_unrouted_path_is_404_NotFound() =>
        await AssertProblemAsync(await Client.GetAsync("/v1/planets"), HttpStatusCode.NotFound, ErrorCodes.NotFound);

    [Fact]
    public async Task A_method_the_path_does_not_have_is_405_MethodNotAllowed() =>
        await AssertProblemAsync(await Client.PutAsync("/v1/replication-groups/x", Json("{}")), HttpStatusCode.MethodNotAllowed, ErrorCodes.MethodNotAllowed);

    [Fact]
    public async Task Another_media_type_is_415_UnsupportedMediaType()
    {
        await AssertProblemAsync(await Client.PostAsync("/v1/replication-groups", Json("{\"id\":\"text\"}", "text/plain")),
            HttpStatusCode.UnsupportedMediaType, ErrorCodes.UnsupportedMediaType);
        Assert.Equal(0, await CountAsync(db => db.ReplicationGroups));
    }

    [Fact]
    public async Task A_body_over_the_limit_is_413_at_once()
    {
        var json = "{\"id\":\"big\",\"description\":\"" + new string('d', 600 * 1024) + "\"}";
        await AssertProblemAsync(await Client.PostAsync("/v1/replication-groups", Json(json)), HttpStatusCode.RequestEntityTooLarge, ErrorCodes.RequestTooLarge);
        Assert.Equal(0, await CountAsync(db => db.ReplicationGroups));
    }

    [Fact]
    public async Task A_long_url_is_414_and_large_headers_431()
    {
        await AssertProblemAsync(await Client.GetAsync("/v1/replication-groups/" + new string('a', 9000)), HttpStatusCode.RequestUriTooLong, ErrorCodes.RequestTooLarge);
        var request = new HttpRequestMessage(HttpMethod.Get, "/v1/replication-groups");
        for (var i = 0; i < 8; i++)
            request.Headers.Add($"X-Filler-{i}", new string('h', 5000));
        await AssertProblemAsync(await Client.SendAsync(request), HttpStatusCode.RequestHeaderFieldsTooLarge, ErrorCodes.RequestTooLarge);
    }

    [Fact]
    public async Task A_body_that_is_not_json_is_400_for_the_body()
    {
        await AssertProblemAsync(await Client.PostAsync("/v1/replication-groups", Json("{\"id\":")), HttpStatusCode.BadRequest, ErrorCodes.InvalidParameterValue, "body");
        await AssertProblemAsync(await Client.PostAsync("/v1/replication-groups", Json("")), HttpStatusCode.BadRequest, ErrorCodes.InvalidParameterValue, "body");
    }

    [Fact]
    public async Task An_idempotency_key_over_255_characters_is_400()
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "/v1/replication-groups") { Content = Json("{\"id\":\"long-key\"}") };
        request.Headers.Add("Idempotency-Key", new string('k', 3000));
        await AssertProblemAsync(await Client.SendAsync(request), HttpStatusCode.BadRequest, ErrorCodes.InvalidParameterValue, "Idempotency-Key");
        Assert.Equal(0, await CountAsync(db => db.ReplicationGroups));
    }
}

/// <summary>A client over its rate is throttled with ElastiCache's code and told when to come back.</summary>
public sealed class ThrottlingTests(PostgresFixture postgres) : ApiTest(postgres)
{
    protected override IReadOnlyDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["ControlPlane:Http:RequestsPerSecond"] = "1",
        ["ControlPlane:Http:Burst"] = "5",
    };

    [Fact]
    public async Task Requests_over_the_burst_are_429_ThrottlingException_with_Retry_After()
    {
        var answers = new List<HttpResponseMessage>();
        for (var i = 0; i < 10; i++)
            answers.Add(await Client.GetAsync("/v1/replication-groups"));
        Assert.Contains(answers, a => a.StatusCode == HttpStatusCode.OK);
        var throttled = answers.First(a => a.StatusCode == HttpStatusCode.TooManyRequests);
        await AssertProblemAsync(throttled, HttpStatusCode.TooManyRequests, ErrorCodes.ThrottlingException);
        Assert.True(throttled.Headers.RetryAfter?.Delta >= TimeSpan.FromSeconds(1));
        // Health is never throttled.
        Assert.Equal(HttpStatusCode.OK, (await Client.GetAsync("/healthz")).StatusCode);
    }
}
