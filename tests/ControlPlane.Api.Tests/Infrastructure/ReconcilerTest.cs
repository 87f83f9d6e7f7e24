using System.Diagnostics;
using System.Text.Json.Nodes;
using ControlPlane.Api.Runtime;
using ControlPlane.Api.Security;
using Microsoft.Extensions.DependencyInjection;
using StackExchange.Redis;
using Docker.DotNet;
using Docker.DotNet.Models;

namespace ControlPlane.Api.Tests.Infrastructure;

/// <summary>
/// The whole product on real parts: the API with its reconciler on a real Postgres, three real
/// Docker engines as zones az-a/az-b/az-c (started by deploy/test.sh), real Redis and Memcached.
/// Each test class gets its own control-plane instance label and its own slice of ports, so
/// classes running side by side on the same engines never touch each other's containers.
/// </summary>
public abstract class ReconcilerTest(PostgresFixture postgres) : ApiTest(postgres)
{
    private static int _classes;
    private readonly int _slice = Interlocked.Increment(ref _classes);

    protected string Instance { get; } = $"t{Environment.ProcessId % 10000}x{Random.Shared.Next(1000)}";

    /// <summary>
    /// Each test's own ports, and their cluster bus ports (port + 10000), all below the kernel's
    /// ephemeral range (32768 and up): a port there may also be the source port of some connection
    /// of the machine. Slices of 300 ran into it after 42 tests; a node port of 22768 or more once
    /// found its bus port taken and the node exited while its group was created. Slices are reused
    /// once the window is used up; a test removes its containers and rules when it ends, and tests
    /// of this collection run one at a time. CONTROLPLANE_TEST_PORTS ("20000-22599", the default)
    /// narrows the window, so that two test runs on one machine (two working copies) never share a port.
    /// </summary>
    protected int PortRangeStart => TestPorts.Window.Start + _slice % ((TestPorts.Window.End - TestPorts.Window.Start + 1) / 200) * 200;

    protected int PortRangeEnd => PortRangeStart + 199;

    protected override bool FakeClock => false;

    protected static IReadOnlyDictionary<string, string> Engines { get; } = DockerEngines();

    protected override IReadOnlyDictionary<string, string?> Settings
    {
        get
        {
            var settings = new Dictionary<string, string?>
            {
                ["ControlPlane:Reconciler:Enabled"] = "true",
                ["ControlPlane:Reconciler:Instance"] = Instance,
                ["ControlPlane:Reconciler:PortRangeStart"] = $"{PortRangeStart}",
                ["ControlPlane:Reconciler:PortRangeEnd"] = $"{PortRangeEnd}",
                ["ControlPlane:Reconciler:PassInterval"] = "00:00:00.500",
                ["ControlPlane:Reconciler:CreateTimeout"] = "00:01:00",
                // Off unless a test is about it: idle pools of every test class would crowd the engines.
                ["ControlPlane:Reconciler:WarmPoolSize"] = "0",
                // The tests run as root: the kernel endpoints for real, never a silent fall-back to the proxy.
                ["ControlPlane:Endpoints:Mode"] = "nftables",
            };
            var i = 0;
            foreach (var (zone, endpoint) in Engines)
            {
                settings[$"ControlPlane:AvailabilityZones:{i}:Name"] = zone;
                settings[$"ControlPlane:AvailabilityZones:{i}:DockerEndpoint"] = endpoint;
                settings[$"ControlPlane:AvailabilityZones:{i}:Host"] = "127.0.0.1";
                i++;
            }
            foreach (var (key, value) in ExtraSettings)
                settings[key] = value;
            return settings;
        }
    }

    protected virtual IReadOnlyDictionary<string, string?> ExtraSettings => new Dictionary<string, string?>();

    /// <summary>The reconciler's settings of this class, as environment variables for a child process.</summary>
    protected Dictionary<string, string> ChildSettings()
    {
        var env = Settings.Where(s => s.Value is not null).ToDictionary(s => s.Key.Replace(":", "__", StringComparison.Ordinal), s => s.Value!);
        env["ControlPlane__Reconciler__Enabled"] = "true";
        env["ConnectionStrings__ControlPlane"] = ConnectionString;
        env["ASPNETCORE_URLS"] = "http://127.0.0.1:0";
        env["ControlPlane__AdminKey"] = TestKeys.Admin;
        // Control planes on one database share one snapshot store, as they must in production: a
        // snapshot one of them took is restored by whichever converges the new group.
        env["ControlPlane__SnapshotDir"] = Factory.SnapshotDir;
        return env;
    }

    /// <summary>A control plane (API and reconciler) of this class's settings in a process of its own, so that it can be killed (SIGKILL).</summary>
    protected ControlPlaneProcess StartControlPlane() => ControlPlaneProcess.Start(ChildSettings());

    protected static ControlPlaneProcess StartControlPlane(IReadOnlyDictionary<string, string> settings) => ControlPlaneProcess.Start(settings);

    /// <summary>This control plane's nftables table (its endpoints' rules), as the kernel holds it now.</summary>
    protected async Task<NftTable> KernelTableAsync() =>
        NftRuleset.Parse(await new Netfilter().ListAsync(NftRuleset.TableName(Instance), CancellationToken.None) ?? """{"nftables": []}""");

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        // The rules outlive a control plane on purpose (the data path does not need it); a test's go with it.
        var table = NftRuleset.TableName(Instance);
        await new Netfilter().ApplyAsync($"add table ip {table}\ndelete table ip {table}\n", CancellationToken.None);
        // Whatever a failed test left behind goes, so the engines stay clean for the next class.
        foreach (var engine in Engines.Values)
        {
            using var docker = Docker(engine);
            foreach (var container in await OurContainersAsync(engine))
            {
                try
                {
                    await docker.Containers.RemoveContainerAsync(container.ID, new ContainerRemoveParameters { Force = true });
                }
                catch (DockerApiException e) when (e.StatusCode is System.Net.HttpStatusCode.NotFound or System.Net.HttpStatusCode.Conflict)
                {
                    // Gone already, or being removed by the control plane as the host shut down.
                }
            }
        }
    }

    /// <summary>A direct connection to a node as the control plane's admin user: clients may not run CONFIG and the like.</summary>
    protected async Task<ConnectionMultiplexer> AdminAsync(JsonNode endpoint)
    {
        var secrets = await Factory.Services.GetRequiredService<NodeSecretStore>().GetAsync(CancellationToken.None);
        return await ConnectionMultiplexer.ConnectAsync(new ConfigurationOptions
        {
            EndPoints = { Reconciliation.RedisCreateTests.Endpoint(endpoint) },
            AllowAdmin = true,
            ConnectTimeout = 1000,
            User = NodeSecrets.AdminUser,
            Password = secrets.AdminPassword,
        });
    }

    protected static DockerClient Docker(string endpoint) => new DockerClientBuilder().WithEndpoint(new Uri(endpoint)).Build();

    protected async Task<IList<ContainerListResponse>> OurContainersAsync(string endpoint)
    {
        using var docker = Docker(endpoint);
        return await docker.Containers.ListContainersAsync(new ContainersListParameters
        {
            All = true,
            Filters = new Dictionary<string, IDictionary<string, bool>> { ["label"] = new Dictionary<string, bool> { [$"{Labels.Instance}={Instance}"] = true } },
        });
    }

    private static IReadOnlyDictionary<string, string> DockerEngines()
    {
        var engines = new SortedDictionary<string, string>();
        foreach (var zone in new[] { "a", "b", "c" })
            if (Environment.GetEnvironmentVariable($"CONTROLPLANE_TEST_DOCKER_AZ_{zone.ToUpperInvariant()}") is { Length: > 0 } endpoint)
                engines[$"az-{zone}"] = endpoint;
        if (engines.Count == 0)
            throw new InvalidOperationException(
                "No Docker engine for the reconciler tests: run ./deploy/test.sh, which starts three engines and sets CONTROLPLANE_TEST_DOCKER_AZ_A/B/C.");
        return engines;
    }
}
