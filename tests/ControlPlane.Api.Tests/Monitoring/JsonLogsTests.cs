using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using ControlPlane.Api.Tests.Infrastructure;

namespace ControlPlane.Api.Tests.Monitoring;

/// <summary>ControlPlane:Logging:Json: one JSON object a line, the group, node and action as fields, and the API request's trace id on the reconciler's work.</summary>
public sealed class JsonLogsTests(PostgresFixture postgres) : LiveControlPlaneTest(postgres)
{
    protected override IReadOnlyDictionary<string, string?> ExtraSettings =>
        new Dictionary<string, string?>(base.ExtraSettings) { ["ControlPlane:Logging:Json"] = "true" };

    [Fact]
    public async Task The_reconcilers_log_lines_carry_the_group_node_action_and_the_requests_trace_id()
    {
        var traceId = Convert.ToHexStringLower(Guid.NewGuid().ToByteArray());
        using var http = new HttpClient { BaseAddress = new Uri(BaseAddress) };
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/replication-groups")
        {
            Content = new StringContent("""{ "id": "traced", "replicasPerShard": 0 }""", Encoding.UTF8, "application/json"),
        };
        request.Headers.Authorization = new("Bearer", TestKeys.Admin);
        request.Headers.Add("traceparent", $"00-{traceId}-{Convert.ToHexStringLower(Guid.NewGuid().ToByteArray())[..16]}-01");
        Assert.Equal(HttpStatusCode.Accepted, (await http.SendAsync(request)).StatusCode);
        await WaitForStatusAsync("/v1/replication-groups/traced", "available");

        JsonObject? started = null;
        await WaitUntilAsync(() =>
        {
            started = Lines().FirstOrDefault(l => ((string?)l["Message"])?.Contains("started container", StringComparison.Ordinal) == true
                && Field(l, "group") == "traced");
            return Task.FromResult(started is not null);
        }, TimeSpan.FromSeconds(10), () => $"no JSON line says the group's container started:\n{PlaneOutput}");
        Assert.Equal("StartContainer", Field(started!, "action"));
        Assert.Equal("traced-0001-001", Field(started!, "node"));
        Assert.Equal("redis", Field(started!, "engine"));
        Assert.Equal(traceId, Field(started!, "TraceId"));
        Assert.False(string.IsNullOrEmpty((string?)started!["Timestamp"]));
        Assert.Equal("Information", (string?)started["LogLevel"]);
    }

    /// <summary>The control plane's output lines that are JSON objects.</summary>
    private IEnumerable<JsonObject> Lines()
    {
        foreach (var line in PlaneOutput.Split('\n'))
        {
            if (!line.StartsWith('{'))
                continue;
            JsonObject? parsed = null;
            try
            {
                parsed = JsonNode.Parse(line)?.AsObject();
            }
            catch (System.Text.Json.JsonException)
            {
                // A line cut by the capture; the next ones count.
            }
            if (parsed is not null)
                yield return parsed;
        }
    }

    /// <summary>A field of one of the line's scopes.</summary>
    private static string? Field(JsonObject line, string name) =>
        line["Scopes"]?.AsArray().Select(s => s as JsonObject).Select(s => s?[name]).OfType<JsonNode>().Select(v => (string?)v).FirstOrDefault();
}
