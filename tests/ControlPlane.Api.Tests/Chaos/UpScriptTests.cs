using System.Diagnostics;
using System.Net;
using System.Text;
using ControlPlane.Api.Tests.Infrastructure;

namespace ControlPlane.Api.Tests.Chaos;

/// <summary>
/// deploy/up.sh as a newcomer runs it (on the test's az-a engine, with its own Postgres and state
/// folder): killing the API with SIGKILL restarts it with a log line while Postgres and the caches
/// keep running; only SIGTERM to up.sh stops the stack.
/// </summary>
public sealed class UpScriptTests(PostgresFixture postgres) : ChaosTest(postgres)
{
    [Fact]
    public async Task Up_restarts_a_killed_API_and_only_sigterm_stops_the_stack()
    {
        var state = Directory.CreateTempSubdirectory("cp-up-").FullName;
        // Postgres runs as user postgres and must reach its folder below this one.
        await RunAsync("chmod", "755", state);
        var (pgPort, apiPort) = (PostgresServer.FreePort(), PostgresServer.FreePort());
        var root = Root();
        var start = new ProcessStartInfo("bash", [Path.Combine(root, "deploy", "up.sh")])
        {
            WorkingDirectory = root, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        };
        start.Environment["CONTROLPLANE_STATE_DIR"] = state;
        start.Environment["CONTROLPLANE_PG_PORT"] = $"{pgPort}";
        start.Environment["CONTROLPLANE_URL"] = $"http://127.0.0.1:{apiPort}";
        start.Environment["CONTROLPLANE_DOCKER_HOST"] = Engines["az-a"];
        start.Environment["ControlPlane__Reconciler__WarmPoolSize"] = "0";
        start.Environment["ControlPlane__Reconciler__Instance"] = Instance;
        start.Environment["ControlPlane__Reconciler__PortRangeStart"] = $"{PortRangeStart}";
        start.Environment["ControlPlane__Reconciler__PortRangeEnd"] = $"{PortRangeEnd}";
        var output = new StringBuilder();
        using var up = new Process { StartInfo = start };
        up.OutputDataReceived += (_, e) => { lock (output) output.AppendLine(e.Data); };
        up.ErrorDataReceived += (_, e) => { lock (output) output.AppendLine(e.Data); };
        up.Start();
        up.BeginOutputReadLine();
        up.BeginErrorReadLine();
        string Log() { lock (output) return output.ToString(); }
        using var api = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{apiPort}") };
        try
        {
            await WaitUntilAsync(() => AnswersAsync(api), TimeSpan.FromMinutes(4), () => $"up.sh never served the API:\n{Log()}");
            // The first start made an admin key, readable by its owner only, and said where it is.
            var keyFile = Path.Combine(state, "admin.key");
            if (!OperatingSystem.IsWindows())
                Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(keyFile));
            Assert.Contains(keyFile, Log());
            Assert.Equal(HttpStatusCode.Unauthorized, (await api.GetAsync("/v1/cache-clusters")).StatusCode);
            api.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", File.ReadAllText(keyFile).Trim());
            // Its Postgres takes passwords only.
            await PostgresServer.AssertPsqlWithoutPasswordRefusedAsync(Environment.GetEnvironmentVariable("CONTROLPLANE_PG_BINDIR")!, pgPort, "postgres");
            await PostgresServer.AssertPsqlWithoutPasswordRefusedAsync(Environment.GetEnvironmentVariable("CONTROLPLANE_PG_BINDIR")!, pgPort, "controlplane");
            var created = await api.PostAsync("/v1/cache-clusters", new StringContent("""{"id":"kept","engine":"memcached"}""", Encoding.UTF8, "application/json"));
            Assert.Equal(HttpStatusCode.Accepted, created.StatusCode);
            await WaitUntilAsync(async () => (await api.GetStringAsync("/v1/cache-clusters/kept")).Contains("\"status\":\"available\""), TimeSpan.FromSeconds(60), Log);
            var node = (await OurContainersAsync(Engines["az-a"])).Single(c => c.Labels["controlplane.node"] == "kept-0001");

            var first = File.ReadAllText(Path.Combine(state, "api.pid")).Trim();
            await RunAsync("kill", "-KILL", "--", $"-{first}");
            await WaitUntilAsync(() => Task.FromResult(Log().Contains("the API exited with code")), TimeSpan.FromSeconds(30), Log);
            await WaitUntilAsync(async () => File.ReadAllText(Path.Combine(state, "api.pid")).Trim() != first && await AnswersAsync(api),
                TimeSpan.FromMinutes(2), () => $"the API never came back:\n{Log()}");
            // The cache and Postgres never went away: the same container runs on, the record is there.
            var after = (await OurContainersAsync(Engines["az-a"])).Single(c => c.Labels["controlplane.node"] == "kept-0001");
            Assert.Equal(node.ID, after.ID);
            Assert.Equal("running", after.State);
            Assert.Contains("\"status\":\"available\"", await api.GetStringAsync("/v1/cache-clusters/kept"));

            await RunAsync("kill", "-TERM", $"{up.Id}");
            Assert.True(up.WaitForExit(60_000), $"up.sh did not stop on SIGTERM:\n{Log()}");
            Assert.False(await AnswersAsync(api));
            Assert.Contains("stopped; data kept in", Log());
        }
        finally
        {
            if (!up.HasExited)
                up.Kill(entireProcessTree: true);
            await RunAsync("bash", "-c", $"source deploy/lib/common.sh && cp_stop_postgres '{state}' >/dev/null 2>&1; true");
            Directory.Delete(state, recursive: true);
        }
    }

    private static async Task<bool> AnswersAsync(HttpClient api)
    {
        try
        {
            return (await api.GetAsync("/healthz")).IsSuccessStatusCode;
        }
        catch (HttpRequestException)
        {
            return false;
        }
    }

    private static async Task RunAsync(string file, params string[] args)
    {
        using var process = Process.Start(new ProcessStartInfo(file, args) { WorkingDirectory = Root(), UseShellExecute = false })!;
        await process.WaitForExitAsync();
    }

    private static string Root()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (!File.Exists(Path.Combine(dir.FullName, "ControlPlane.sln")))
            dir = dir.Parent ?? throw new InvalidOperationException("ControlPlane.sln not found above the test binaries.");
        return dir.FullName;
    }
}
