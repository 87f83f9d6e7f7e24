using System.Text.Json.Nodes;
using ControlPlane.Api.Tests.Infrastructure;
using ControlPlane.Api.World.InMemory;
using Microsoft.Extensions.DependencyInjection;

namespace ControlPlane.Api.Tests.World;

/// <summary>
/// The whole control plane (API, reconciler, real Postgres) on the in-memory world: three zones of
/// <see cref="MemoryNodeRuntime"/>, fake Redis and Memcached nodes, no Docker. Real time: the
/// reconciler runs at its own pace, as in the Docker tests, only much faster.
/// </summary>
public abstract class MemoryWorldTest(PostgresFixture postgres) : ApiTest(postgres)
{
    private static int _classes;
    private readonly int _slice = Interlocked.Increment(ref _classes);

    protected string Instance { get; } = $"m{Environment.ProcessId % 10000}x{Random.Shared.Next(1000)}";

    protected override bool FakeClock => false;

    /// <summary>
    /// Node ports are numbers only here, but a Memcached cluster's configuration endpoint listens for
    /// real (loopback): the ports come from the end of CONTROLPLANE_TEST_PORTS, apart from the Docker tests' slices.
    /// </summary>
    private int PortRangeStart => TestPorts.Window.End - 199 - (_slice % 4) * 200;

    protected override IReadOnlyDictionary<string, string?> Settings
    {
        get
        {
            var settings = new Dictionary<string, string?>
            {
                ["ControlPlane:World"] = "memory",
                ["ControlPlane:Reconciler:Enabled"] = "true",
                ["ControlPlane:Reconciler:Instance"] = Instance,
                ["ControlPlane:Reconciler:PortRangeStart"] = $"{PortRangeStart}",
                ["ControlPlane:Reconciler:PortRangeEnd"] = $"{PortRangeStart + 199}",
                ["ControlPlane:Reconciler:CreateTimeout"] = "00:01:00",
                ["ControlPlane:Reconciler:WarmPoolSize"] = "0",
                ["ControlPlane:Reconciler:ZoneGrace"] = "00:00:03",
            };
            var i = 0;
            foreach (var zone in new[] { "az-a", "az-b", "az-c" })
            {
                settings[$"ControlPlane:AvailabilityZones:{i}:Name"] = zone;
                // Never used: the world stands in for the engine.
                settings[$"ControlPlane:AvailabilityZones:{i}:DockerEndpoint"] = "unix:///nonexistent/docker.sock";
                settings[$"ControlPlane:AvailabilityZones:{i}:Host"] = "127.0.0.1";
                i++;
            }
            return settings;
        }
    }

    protected MemoryWorld World => Factory.Services.GetRequiredService<MemoryWorld>();

    protected string ContainerName(JsonNode node) => $"{Instance}-{node["id"]}";

    /// <summary>Waits until the group is available with this many nodes, all available, none of them <paramref name="gone"/>.</summary>
    protected async Task<JsonObject> WaitForFullStrengthAsync(string id, int nodes, string? gone = null, TimeSpan? timeout = null)
    {
        JsonObject? last = null;
        await WaitUntilAsync(async () =>
        {
            last = await BodyAsync(await Client.GetAsync($"/v1/replication-groups/{id}"));
            var all = Nodes(last);
            return (string?)last["status"] == "available" && all.Count == nodes
                && all.All(n => (string?)n["status"] == "available" && (string?)n["id"] != gone);
        }, timeout ?? TimeSpan.FromSeconds(60), () => $"{id} never came back to {nodes} available nodes: {last?.ToJsonString()}\n{EventsText()}");
        return last!;
    }

    protected static List<JsonNode> Nodes(JsonObject group) =>
        group["shards"]!.AsArray().SelectMany(s => s!["nodes"]!.AsArray()).Select(n => n!).ToList();

    protected static JsonNode PrimaryOf(JsonObject group, string shard) =>
        group["shards"]!.AsArray().Single(s => (string?)s!["id"] == shard)!["nodes"]!.AsArray().Single(n => (string?)n!["role"] == "primary")!;

    protected static (string Host, int Port) Address(JsonNode node) => ((string)node["endpoint"]!["host"]!, (int)node["endpoint"]!["port"]!);

    protected async Task<List<string>> MessagesAsync(string id) =>
        (await BodyAsync(await Client.GetAsync($"/v1/events?sourceId={id}")))["items"]!.AsArray().Select(e => (string)e!["message"]!).ToList();
}
