using System.Diagnostics;
using ControlPlane.Api.Runtime;
using ControlPlane.Api.Tests.Infrastructure;
using ControlPlane.Api.Tests.Reconciliation;
using StackExchange.Redis;

namespace ControlPlane.Api.Tests.Security;

/// <summary>Every container the control plane starts (Redis, Memcached, the group's endpoint proxy), as the real engine runs it.</summary>
public sealed class HardenedContainerTests(PostgresFixture postgres) : ReconcilerTest(postgres)
{
    [Fact]
    public async Task Nodes_and_endpoints_run_unprivileged_on_a_read_only_root_and_still_serve()
    {
        await AssertAcceptedAsync(await PostAsync("/v1/replication-groups", new { id = "hard", replicasPerShard = 1 }));
        await AssertAcceptedAsync(await PostAsync("/v1/cache-clusters", new { id = "hardmc", engine = "memcached", numNodes = 1 }));
        var group = await WaitForStatusAsync("/v1/replication-groups/hard", "available");
        await WaitForStatusAsync("/v1/cache-clusters/hardmc", "available");

        var kinds = new HashSet<string>();
        foreach (var (_, engine) in Engines)
        {
            using var docker = Docker(engine);
            foreach (var listed in await OurContainersAsync(engine))
            {
                var container = await docker.Containers.InspectContainerAsync(listed.ID);
                var (state, config, host) = (container.State!, container.Config!, container.HostConfig!);
                var name = container.Name;
                kinds.Add(listed.Labels[Labels.Kind]);
                Assert.True(state.Running, $"{name} is not running: {state.Status}");
                Assert.Equal("65534:65534", config.User);
                Assert.Equal(["ALL"], host.CapDrop);
                Assert.Contains("no-new-privileges", host.SecurityOpt);
                Assert.True(host.ReadonlyRootfs, $"{name} has a writable root");
                Assert.Equal(ContainerSpecMapper.PidsLimit, host.PidsLimit);
                Assert.False(host.Privileged);

                // What the kernel says of the running process (the engines run on this host, same pid namespace).
                var status = await File.ReadAllLinesAsync($"/proc/{state.Pid}/status");
                string Field(string key) => status.Single(l => l.StartsWith(key + ":", StringComparison.Ordinal))[(key.Length + 1)..].Trim();
                Assert.All(Field("Uid").Split('\t', StringSplitOptions.RemoveEmptyEntries), id => Assert.Equal("65534", id));
                Assert.Equal("0000000000000000", Field("CapEff"));
                Assert.Equal("0000000000000000", Field("CapPrm"));
                Assert.Equal("0000000000000000", Field("CapBnd"));
                Assert.Equal("1", Field("NoNewPrivs"));
            }
        }
        Assert.Superset(new HashSet<string> { "redis", "memcached" }, kinds);

        // From inside a Redis node (its image has a shell): no root, nothing written outside /data, no capability to get back.
        var node = group["shards"]![0]!["nodes"]![0]!;
        var zone = (string)node["availabilityZone"]!;
        var containerName = $"{Instance}-{(string)node["id"]!}";
        var (code, output) = await ExecAsync(Engines[zone], containerName,
            // The image has no id(1): the shell reads its own uid. `true`, not `:`: a failed redirection
            // of a special built-in ends a POSIX shell.
            "while read -r key value rest; do [ \"$key\" = Uid: ] && echo \"$value\"; done < /proc/self/status; "
                + "true > /data/probe && echo data-writable; true > /usr/bin/evil || echo root-read-only; true > /etc/passwd || echo passwd-refused");
        Assert.True(code == 0, output);
        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.Equal("65534", lines[0]);
        foreach (var expected in new[] { "data-writable", "root-read-only", "passwd-refused" })
            Assert.Contains(expected, lines);

        // Still a working group: replication, the endpoint, a snapshot's save into /data.
        await using var client = await ConnectionMultiplexer.ConnectAsync(new ConfigurationOptions { EndPoints = { RedisCreateTests.Endpoint(group["primaryEndpoint"]!) } });
        await client.GetDatabase().StringSetAsync("hardened", "yes");
        await AssertAcceptedAsync(await PostAsync("/v1/snapshots", new { name = "hard-snap", replicationGroupId = "hard" }));
        await WaitForStatusAsync("/v1/snapshots/hard-snap", "available");
    }

    private static async Task<(int Code, string Output)> ExecAsync(string engine, string container, string script)
    {
        var start = new ProcessStartInfo("docker", ["-H", engine, "exec", container, "/bin/sh", "-c", script])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        return (process.ExitCode, await stdout + await stderr);
    }
}
