using System.Net;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using ControlPlane.Api.Tests.Infrastructure;
using StackExchange.Redis;
using Xunit.Abstractions;

namespace ControlPlane.Api.Tests.Monitoring;

/// <summary>The console in a real browser (Debian's chromium, headless, loopback only) against a running control plane and a real group.</summary>
public sealed partial class ConsoleTests(PostgresFixture postgres, ITestOutputHelper output) : LiveControlPlaneTest(postgres)
{
    [Fact]
    public async Task The_console_shows_the_groups_nodes_by_zone_and_a_test_failover()
    {
        await AssertAcceptedAsync(await PostAsync("/v1/replication-groups", new { id = "shown", replicasPerShard = 1 }));
        var group = await WaitForStatusAsync("/v1/replication-groups/shown", "available");
        var nodes = group["shards"]![0]!["nodes"]!.AsArray().Select(n => n!).ToList();
        var primary = nodes.Single(n => (string?)n["role"] == "primary");
        var replica = nodes.Single(n => (string?)n["role"] == "replica");
        await using (var redis = await ConnectionMultiplexer.ConnectAsync($"127.0.0.1:{(int)primary["endpoint"]!["port"]!}"))
            for (var i = 0; i < 200; i++)
                await redis.GetDatabase().StringSetAsync($"k{i}", new string('v', 1000));
        var key = (string)(await NewKeyAsync("viewer", "default"))["key"]!;
        using var http = new HttpClient { BaseAddress = new Uri(BaseAddress) };
        http.DefaultRequestHeaders.Authorization = new("Bearer", key);
        // The memory bars and charts need two reads of the collector (one a second here).
        await WaitUntilAsync(async () => (await http.GetStringAsync("/v1/replication-groups/shown/metrics?name=operations_per_second")).Contains("\"points\":[{", StringComparison.Ordinal),
            TimeSpan.FromSeconds(30), () => "the collector never read the group's nodes");

        var page = await http.GetAsync("/console");
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        Assert.Contains("script-src 'self'", page.Headers.GetValues("Content-Security-Policy").Single());

        var dom = await BrowseAsync(key, "console-before.png");
        Assert.Equal(new[] { ((string)primary["id"]!, "primary"), ((string)replica["id"]!, "replica") }.Order(), Nodes(dom).Order());
        // Each node sits in its zone's column, with a memory bar.
        foreach (var node in nodes)
            Assert.Matches($"<td data-zone=\"{node["availabilityZone"]}\"><div class=\"node [a-z]+\" data-node=\"{node["id"]}\"", dom);
        Assert.Contains("memory ", dom);
        Assert.Matches("<polyline [^>]*data-node=\"shown-0001-00", dom);

        await AssertAcceptedAsync(await PostAsync("/v1/replication-groups/shown/test-failover", new { shardId = "0001" }));
        var failover = $"Failover from primary node {primary["id"]} to replica node {replica["id"]} completed";
        await WaitUntilAsync(async () => (await Client.GetStringAsync("/v1/events?sourceId=shown")).Contains(failover, StringComparison.Ordinal)
            && (string?)(await BodyAsync(await Client.GetAsync("/v1/replication-groups/shown")))["status"] == "available",
            TimeSpan.FromSeconds(60), () => $"the test failover never completed: {EventsText()}");

        dom = await BrowseAsync(key, "console.png");
        Assert.Contains(failover, dom);
        Assert.Contains(((string)replica["id"]!, "primary"), Nodes(dom));
    }

    [Fact]
    public async Task The_console_asks_for_a_key_without_one_and_says_when_it_is_refused()
    {
        var dom = await BrowseAsync(null, null);
        Assert.Matches("<form id=\"login\">", dom);
        Assert.Matches("<main id=\"main\" hidden=\"\">", dom);
        dom = await BrowseAsync("cpk_000000000000_" + new string('0', 64), null);
        Assert.Contains("The key was not accepted.", dom);
    }

    /// <summary>The page's DOM after its scripts ran (and a screenshot into the test results when named).</summary>
    private async Task<string> BrowseAsync(string? key, string? screenshot)
    {
        var url = $"{BaseAddress}/console" + (key is null ? "" : $"#key={key}");
        var profile = Directory.CreateTempSubdirectory("cp-chromium-");
        try
        {
            if (screenshot is not null)
            {
                var results = Environment.GetEnvironmentVariable("CONTROLPLANE_TEST_RESULTS_DIR") is { Length: > 0 } dir ? dir : AppContext.BaseDirectory;
                Directory.CreateDirectory(results);
                var path = Path.Combine(results, screenshot);
                var shot = await RunAsync("chromium", [.. BrowserArguments(profile.FullName), "--window-size=1440,900", $"--screenshot={path}", url], TimeSpan.FromSeconds(60));
                Assert.True(File.Exists(path), $"chromium wrote no screenshot ({shot.ExitCode}): {shot.Output}");
                output.WriteLine($"screenshot: {path}");
            }
            var (exitCode, dom) = await RunAsync("chromium", [.. BrowserArguments(profile.FullName), "--dump-dom", url], TimeSpan.FromSeconds(60));
            Assert.True(exitCode == 0 && dom.Contains("</html>", StringComparison.Ordinal), $"chromium failed ({exitCode}): {dom}");
            return dom;
        }
        finally
        {
            profile.Delete(recursive: true);
        }
    }

    /// <summary>
    /// Headless, as root (no sandbox), and held to loopback: every host name but 127.0.0.1 fails to
    /// resolve, anything else would go to a proxy on a closed loopback port, and the background
    /// services (updates, sync, metrics) are off.
    /// </summary>
    private static string[] BrowserArguments(string profile) =>
    [
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", $"--user-data-dir={profile}",
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1", "--proxy-server=http://127.0.0.1:9",
        "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-default-apps",
        "--disable-domain-reliability", "--disable-client-side-phishing-detection", "--no-first-run", "--no-pings",
        "--virtual-time-budget=6000", "--run-all-compositor-stages-before-draw",
    ];

    private static List<(string Node, string Role)> Nodes(string dom) =>
        NodePattern().Matches(dom).Select(m => (m.Groups[1].Value, m.Groups[2].Value)).Distinct().ToList();

    [GeneratedRegex("data-node=\"([a-z0-9-]+)\" data-role=\"([a-z]+)\"")]
    private static partial Regex NodePattern();
}
