using System.Diagnostics;
using System.Text.Json.Nodes;
using ControlPlane.Api.Tests.Infrastructure;

namespace ControlPlane.Api.Tests.Monitoring;

/// <summary>A real Prometheus server (Debian's package, loopback only) scrapes the control plane with an API key.</summary>
public sealed class PrometheusScrapeTests(PostgresFixture postgres) : LiveControlPlaneTest(postgres)
{
    [Fact]
    public async Task A_prometheus_server_scrapes_a_nodes_metrics_with_a_key()
    {
        await AssertAcceptedAsync(await PostAsync("/v1/replication-groups", new { id = "scraped", replicasPerShard = 0 }));
        await WaitForStatusAsync("/v1/replication-groups/scraped", "available");
        var key = (string)(await NewKeyAsync("viewer", "default"))["key"]!;

        var folder = Directory.CreateTempSubdirectory("cp-prometheus-");
        var prometheusPort = PostgresServer.FreePort();
        await File.WriteAllTextAsync(Path.Combine(folder.FullName, "key"), key);
        await File.WriteAllTextAsync(Path.Combine(folder.FullName, "prometheus.yml"), $"""
            global:
              scrape_interval: 1s
              evaluation_interval: 1s
            rule_files:
              - {Path.Combine(RepositoryRoot(), "deploy", "monitoring", "alerts.yml")}
            scrape_configs:
              - job_name: controlplane
                authorization:
                  credentials_file: {Path.Combine(folder.FullName, "key")}
                static_configs:
                  - targets: ["127.0.0.1:{Port}"]
            """);
        using var server = Process.Start(new ProcessStartInfo("prometheus",
        [
            $"--config.file={Path.Combine(folder.FullName, "prometheus.yml")}", $"--storage.tsdb.path={Path.Combine(folder.FullName, "data")}",
            $"--web.listen-address=127.0.0.1:{prometheusPort}", "--storage.tsdb.retention.time=1h", "--log.level=warn",
        ]) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false })!;
        var log = server.StandardError.ReadToEndAsync();
        try
        {
            using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{prometheusPort}"), Timeout = TimeSpan.FromSeconds(5) };
            JsonObject? answer = null;
            string targetsText = "";
            await WaitUntilAsync(async () =>
            {
                try
                {
                    targetsText = await http.GetStringAsync("/api/v1/targets");
                    answer = JsonNode.Parse(await http.GetStringAsync("/api/v1/query?query=" + Uri.EscapeDataString("controlplane_node_up{group=\"scraped\"}")))!.AsObject();
                    return answer["data"]!["result"]!.AsArray().Count == 1;
                }
                catch (HttpRequestException)
                {
                    return false;
                }
            }, TimeSpan.FromSeconds(60), () => $"Prometheus never had controlplane_node_up of the group: {answer?.ToJsonString()}\ntargets: {targetsText}\n{PlaneOutput}");
            var series = answer!["data"]!["result"]![0]!;
            Assert.Equal("scraped-0001-001", (string?)series["metric"]!["node"]);
            Assert.Equal("controlplane", (string?)series["metric"]!["job"]);
            Assert.Equal("1", (string?)series["value"]![1]);
            // The scrape itself is healthy and the rules loaded.
            var targets = JsonNode.Parse(await http.GetStringAsync("/api/v1/targets"))!["data"]!["activeTargets"]![0]!;
            Assert.Equal("up", (string?)targets["health"]);
            var rules = JsonNode.Parse(await http.GetStringAsync("/api/v1/rules"))!["data"]!["groups"]!.AsArray();
            Assert.Contains(rules, g => (string?)g!["name"] == "controlplane-nodes");
        }
        finally
        {
            server.Kill(entireProcessTree: true);
            await server.WaitForExitAsync();
            folder.Delete(recursive: true);
            _ = await log;
        }
    }

    internal static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "ControlPlane.sln")))
                return dir.FullName;
        throw new InvalidOperationException("ControlPlane.sln not found above " + AppContext.BaseDirectory);
    }
}
