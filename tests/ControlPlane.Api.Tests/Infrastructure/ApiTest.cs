using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using ControlPlane.Api.Data;
using ControlPlane.Domain;
using Microsoft.EntityFrameworkCore;

namespace ControlPlane.Api.Tests.Infrastructure;

/// <summary>A test class with its own database and API host.</summary>
[Collection(PostgresCollection.Name)]
public abstract class ApiTest(PostgresFixture postgres) : IAsyncLifetime
{
    protected string ConnectionString { get; private set; } = "";
    protected PostgresFixture Postgres => postgres;
    protected ApiFactory Factory { get; set; } = null!;
    protected HttpClient Client { get; set; } = null!;

    protected virtual IReadOnlyDictionary<string, string?>? Settings => null;

    /// <summary>API tests move a fake clock; tests of the running reconciler need real time.</summary>
    protected virtual bool FakeClock => true;

    /// <summary>The test's own database; a test that takes its server away starts a server of its own here.</summary>
    protected virtual Task<string> NewDatabaseAsync() => postgres.NewDatabaseAsync();

    public virtual async Task InitializeAsync()
    {
        ConnectionString = await NewDatabaseAsync();
        Factory = new ApiFactory(ConnectionString, Settings, FakeClock);
        Client = Factory.CreateClient();
    }

    public virtual async Task DisposeAsync()
    {
        await Factory.DisposeAsync();
        // Every test has a database of its own, so a pool of its own; its idle connections would
        // otherwise stay open for minutes and, test after test, use up the server's connections.
        await using var connection = new Npgsql.NpgsqlConnection(ConnectionString);
        Npgsql.NpgsqlConnection.ClearPool(connection);
    }

    protected static StringContent Json(string json, string mediaType = "application/json") => new(json, Encoding.UTF8, mediaType);

    protected static StringContent Json(object body) => Json(JsonSerializer.Serialize(body, new JsonSerializerOptions(JsonSerializerDefaults.Web)));

    protected Task<HttpResponseMessage> PostAsync(string path, object body) => Client.PostAsync(path, Json(body));

    protected Task<HttpResponseMessage> PatchAsync(string path, object body, string? ifMatch = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Patch, path) { Content = Json(JsonSerializer.Serialize(body, new JsonSerializerOptions(JsonSerializerDefaults.Web)), "application/merge-patch+json") };
        if (ifMatch is not null)
            request.Headers.TryAddWithoutValidation("If-Match", ifMatch);
        return Client.SendAsync(request);
    }

    /// <summary>A request with exactly this key (none when null), whatever the default client carries.</summary>
    protected async Task<HttpResponseMessage> SendAsync(string method, string path, string? key, object? body = null)
    {
        using var client = Factory.CreateClient();
        client.DefaultRequestHeaders.Authorization = null;
        var request = new HttpRequestMessage(new HttpMethod(method), path);
        if (body is not null || method is "POST" or "PATCH")
            request.Content = method == "PATCH"
                ? Json(JsonSerializer.Serialize(body ?? new { }, new JsonSerializerOptions(JsonSerializerDefaults.Web)), "application/merge-patch+json")
                : Json(body ?? new { });
        if (key is not null)
            request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", key);
        return await client.SendAsync(request);
    }

    /// <summary>A new API key (made with the admin key): keyId, key, role, tenant.</summary>
    protected async Task<JsonObject> NewKeyAsync(string role, string tenant)
    {
        var response = await PostAsync("/v1/api-keys", new { name = $"{role} of {tenant}", role, tenant });
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        return await BodyAsync(response);
    }

    protected static async Task<JsonObject> BodyAsync(HttpResponseMessage response) =>
        (await response.Content.ReadFromJsonAsync<JsonObject>())!;

    /// <summary>Asserts a problem response: its status, its code, and (when given) the field it names.</summary>
    protected static async Task<JsonObject> AssertProblemAsync(HttpResponseMessage response, HttpStatusCode status, string code, string? field = null)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == status, $"expected {(int)status} {code}, got {(int)response.StatusCode}: {text}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = JsonNode.Parse(text)!.AsObject();
        Assert.Equal(code, (string?)problem["code"]);
        if (field is not null)
        {
            var errors = problem["errors"]?.AsObject();
            Assert.True(errors is not null && errors.ContainsKey(field), $"expected an error for field {field}: {text}");
        }
        return problem;
    }

    protected static async Task AssertOkAsync(HttpResponseMessage response) =>
        Assert.True(response.IsSuccessStatusCode, $"{(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");

    protected static async Task<JsonObject> AssertAcceptedAsync(HttpResponseMessage response)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.Accepted, $"expected 202, got {(int)response.StatusCode}: {text}");
        return JsonNode.Parse(text)!.AsObject();
    }

    /// <summary>Plays the reconciler's part for API tests: marks a group available.</summary>
    protected async Task MarkAvailableAsync(string groupId)
    {
        await using var db = Factory.NewDbContext();
        await db.ReplicationGroups.Where(g => g.Id == groupId).ExecuteUpdateAsync(s => s.SetProperty(g => g.Status, GroupStatus.Available));
    }

    protected async Task MarkClusterAvailableAsync(string clusterId)
    {
        await using var db = Factory.NewDbContext();
        await db.CacheClusters.Where(c => c.Id == clusterId).ExecuteUpdateAsync(s => s.SetProperty(c => c.Status, CacheClusterStatus.Available));
    }

    /// <summary>(Tests of the running reconciler.) Polls the resource until its status is the one wanted; fails with the last body and events.</summary>
    protected async Task<JsonObject> WaitForStatusAsync(string path, string status, TimeSpan? timeout = null)
    {
        JsonObject? last = null;
        await WaitUntilAsync(async () =>
        {
            var response = await Client.GetAsync(path);
            if (!response.IsSuccessStatusCode)
                return false;
            last = await BodyAsync(response);
            return (string?)last["status"] == status;
        }, timeout ?? TimeSpan.FromSeconds(90), () => $"{path} never became {status}: {last?.ToJsonString()}\nevents: {EventsText()}");
        return last!;
    }

    protected static Task WaitUntilAsync(Func<Task<bool>> condition, TimeSpan timeout, Func<string> because, TimeSpan? interval = null) =>
        Eventually.UntilAsync(condition, timeout, because, interval);

    protected string EventsText() =>
        Client.GetStringAsync("/v1/events?limit=100").GetAwaiter().GetResult();

    protected async Task<int> CountAsync<T>(Func<ControlPlaneDbContext, IQueryable<T>> query)
    {
        await using var db = Factory.NewDbContext();
        return await query(db).CountAsync();
    }
}
