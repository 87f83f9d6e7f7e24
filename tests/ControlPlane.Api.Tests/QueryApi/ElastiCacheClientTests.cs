using System.Diagnostics;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using ControlPlane.Api.Tests.Infrastructure;

namespace ControlPlane.Api.Tests.QueryApi;

/// <summary>
/// The ElastiCache query API driven by the real clients: botocore/boto3 and the aws CLI (Debian's
/// awscli package, v2) against the built control plane in a process of its own, with its reconciler
/// on the real Docker engines. The scenarios are Python scripts next to this file (clients/*.py):
/// they assert with the clients' own parsing of our XML, waiters and paginators, and exit non-zero
/// with what they saw when a check fails.
/// </summary>
public sealed class ElastiCacheClientTests(PostgresFixture postgres) : ReconcilerTest(postgres)
{
    private const string Tenant = "qa";

    [Fact]
    public Task Protocol_faults_signatures_roles_tags_and_paging_through_boto3() => RunAsync("protocol.py", TimeSpan.FromMinutes(3));

    [Fact]
    public Task Cluster_mode_disabled_lifecycle_through_the_aws_cli_and_its_waiters() => RunAsync("cli_disabled.py", TimeSpan.FromMinutes(12));

    [Fact]
    public Task Cluster_mode_enabled_and_memcached_lifecycle_through_boto3_with_rest_on_the_same_resources() =>
        RunAsync("boto3_enabled.py", TimeSpan.FromMinutes(10));

    [Fact]
    public Task Parameter_groups_valkey_engine_upgrades_and_reboots_through_the_aws_cli_and_boto3() =>
        RunAsync("parameters.py", TimeSpan.FromMinutes(12));

    private async Task RunAsync(string script, TimeSpan budget)
    {
        var port = PostgresServer.FreePort();
        var settings = ChildSettings();
        settings["ASPNETCORE_URLS"] = $"http://127.0.0.1:{port}";
        var api = StartControlPlane(settings);
        try
        {
            using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(30) };
            await WaitUntilAsync(async () =>
            {
                try
                {
                    return (await http.GetAsync("/healthz")).IsSuccessStatusCode;
                }
                catch (HttpRequestException)
                {
                    return false;
                }
            }, TimeSpan.FromSeconds(60), () => $"the control plane never answered:\n{api.Output}");
            http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", TestKeys.Admin);

            var (operatorId, operatorSecret, operatorKey) = await NewKeyAsync(http, "operator", Tenant);
            var (viewerId, viewerSecret, _) = await NewKeyAsync(http, "viewer", Tenant);
            var (otherId, otherSecret, _) = await NewKeyAsync(http, "operator", "other");
            // Events for the paging check: each key made is an event of its tenant.
            for (var i = 0; i < 20; i++)
                await NewKeyAsync(http, "viewer", Tenant);

            var env = new Dictionary<string, string>
            {
                ["CP_ENDPOINT"] = $"http://127.0.0.1:{port}",
                ["CP_REGION"] = "eu-west-1",
                ["CP_KEY_ID"] = operatorId, ["CP_SECRET"] = operatorSecret, ["CP_BEARER"] = operatorKey,
                ["CP_VIEWER_KEY_ID"] = viewerId, ["CP_VIEWER_SECRET"] = viewerSecret,
                ["CP_OTHER_KEY_ID"] = otherId, ["CP_OTHER_SECRET"] = otherSecret,
                ["CP_EXPECTED_EVENTS"] = "22",
                ["CP_SCRIPT_SECONDS"] = $"{(int)budget.TotalSeconds}",
            };
            var (exitCode, output) = await RunPythonAsync(script, env, budget + TimeSpan.FromSeconds(30));
            Assert.True(exitCode == 0, $"{script} exited {exitCode}:\n{output}\n--- control plane:\n{Tail(api.Output)}");
            Assert.Contains("all checks passed", output);
        }
        finally
        {
            api.Kill();
        }
    }

    private static async Task<(string KeyId, string Secret, string Key)> NewKeyAsync(HttpClient http, string role, string tenant)
    {
        var response = await http.PostAsJsonAsync("/v1/api-keys", new { name = $"{role} of {tenant}", role, tenant });
        var body = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        Assert.True(response.IsSuccessStatusCode, body.ToJsonString());
        var key = (string)body["key"]!;
        var parts = key.Split('_');
        return (parts[1], parts[2], key);
    }

    /// <summary>The Python that has boto3: CONTROLPLANE_TEST_PYTHON (deploy/test.sh sets it), else python3.</summary>
    private static async Task<(int ExitCode, string Output)> RunPythonAsync(string script, Dictionary<string, string> env, TimeSpan timeout)
    {
        var folder = Path.Combine(AppContext.BaseDirectory, "QueryApi", "clients");
        var python = Environment.GetEnvironmentVariable("CONTROLPLANE_TEST_PYTHON") is { Length: > 0 } p ? p : "python3";
        var start = new ProcessStartInfo(python, ["-u", Path.Combine(folder, script)])
        {
            WorkingDirectory = folder,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var (key, value) in env)
            start.Environment[key] = value;
        using var process = Process.Start(start)!;
        var output = new System.Text.StringBuilder();
        process.OutputDataReceived += (_, e) => { lock (output) output.AppendLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { lock (output) output.AppendLine(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            lock (output)
                return (-1, $"timed out after {timeout}:\n{output}");
        }
        process.WaitForExit();
        lock (output)
            return (process.ExitCode, output.ToString());
    }

    private static string Tail(string text) => text.Length > 6000 ? text[^6000..] : text;
}
