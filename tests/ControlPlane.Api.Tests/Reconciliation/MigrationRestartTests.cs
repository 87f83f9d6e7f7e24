using System.Diagnostics;
using System.Text;
using System.Text.Json.Nodes;
using ControlPlane.Api.Tests.Infrastructure;

namespace ControlPlane.Api.Tests.Reconciliation;

/// <summary>
/// The control plane killed (SIGKILL, no shutdown) in the middle of a slot migration, then started
/// again: it finishes the stored plan, no key is lost and no slot is left importing or migrating.
/// The reconciler runs in a child process here, so it can be killed; the test's own host serves the API only.
/// </summary>
public sealed class MigrationRestartTests(PostgresFixture postgres) : ReconcilerTest(postgres)
{
    protected override IReadOnlyDictionary<string, string?> ExtraSettings => new Dictionary<string, string?> { ["ControlPlane:Reconciler:Enabled"] = "false" };

    [Fact]
    public async Task A_control_plane_killed_during_a_slot_migration_finishes_it_after_restart()
    {
        var first = ControlPlaneProcess.Start(ChildSettings());
        try
        {
            await AssertAcceptedAsync(await PostAsync("/v1/replication-groups", new { id = "resume", clusterMode = "enabled", numShards = 3, replicasPerShard = 0 }));
            var group = await WaitForStatusAsync("/v1/replication-groups/resume", "available");
            await using var client = await Scaling.ConnectAsync(group);
            var keys = await Scaling.LoadAsync(client, 100_000, "k");

            await AssertAcceptedAsync(await PatchAsync("/v1/replication-groups/resume", new { numShards = 5 }));
            JsonObject? last = null;
            await WaitUntilAsync(async () =>
            {
                last = await BodyAsync(await Client.GetAsync("/v1/replication-groups/resume"));
                return (double?)last["pendingChanges"]?["slotMigration"]?["progressPercentage"] > 0;
            }, TimeSpan.FromMinutes(2), () => $"the migration never started: {last?.ToJsonString()}\n{first.Output}\n{EventsText()}");
            first.Kill();
            last = await BodyAsync(await Client.GetAsync("/v1/replication-groups/resume"));
            Assert.Equal("modifying", (string?)last["status"]);
            Assert.True((double)last["pendingChanges"]!["slotMigration"]!["progressPercentage"]! < 100, last.ToJsonString());

            var second = ControlPlaneProcess.Start(ChildSettings());
            try
            {
                group = await WaitForStatusAsync("/v1/replication-groups/resume", "available", TimeSpan.FromMinutes(3));
            }
            finally
            {
                second.Kill();
            }
            Assert.Equal(5, group["shards"]!.AsArray().Count);
            Assert.True(Domain.SlotRanges.IsBalanced(group["shards"]!.AsArray().Select(s => (string)s!["slots"]!)), group.ToJsonString());
            await Scaling.AssertAllPresentAsync(client, keys);
            await Scaling.AssertNoSlotOpenAsync(group);
            Assert.Equal(0, await CountAsync(db => db.SlotMoves));
        }
        finally
        {
            first.Kill();
        }
    }

    /// <summary>The reconciler's settings of this class, as environment variables for a child process.</summary>
    private Dictionary<string, string> ChildSettings()
    {
        var env = Settings.Where(s => s.Value is not null).ToDictionary(s => s.Key.Replace(":", "__", StringComparison.Ordinal), s => s.Value!);
        env["ControlPlane__Reconciler__Enabled"] = "true";
        env["ConnectionStrings__ControlPlane"] = ConnectionString;
        env["ASPNETCORE_URLS"] = "http://127.0.0.1:0";
        return env;
    }
}

/// <summary>The built control plane (src/ControlPlane.Api) run as a process of its own, its output kept for failure messages.</summary>
public sealed class ControlPlaneProcess
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();

    private ControlPlaneProcess(Process process) => _process = process;

    public string Output
    {
        get
        {
            lock (_output)
                return _output.ToString();
        }
    }

    public static ControlPlaneProcess Start(IReadOnlyDictionary<string, string> environment)
    {
        // tests/ControlPlane.Api.Tests/bin/<configuration>/<tfm>/ -> src/ControlPlane.Api/bin/<configuration>/<tfm>/
        var here = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
        var (tfm, configuration) = (here.Name, here.Parent!.Name);
        var root = here;
        while (!File.Exists(Path.Combine(root.FullName, "ControlPlane.sln")))
            root = root.Parent ?? throw new InvalidOperationException("ControlPlane.sln not found above the test binaries.");
        var bin = Path.Combine(root.FullName, "src", "ControlPlane.Api", "bin", configuration, tfm);
        var start = new ProcessStartInfo("dotnet", [Path.Combine(bin, "ControlPlane.Api.dll")])
        {
            WorkingDirectory = bin,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var (key, value) in environment)
            start.Environment[key] = value;
        var process = new Process { StartInfo = start };
        var result = new ControlPlaneProcess(process);
        process.OutputDataReceived += (_, e) => result.Append(e.Data);
        process.ErrorDataReceived += (_, e) => result.Append(e.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return result;
    }

    /// <summary>SIGKILL: no graceful shutdown, nothing finished on the way out.</summary>
    public void Kill()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                _process.WaitForExit(10_000);
            }
        }
        catch (InvalidOperationException)
        {
            // Never started or gone already.
        }
    }

    private void Append(string? line)
    {
        if (line is null)
            return;
        lock (_output)
            _output.AppendLine(line);
    }
}
