using System.Net;
using System.Text.Json.Nodes;
using ControlPlane.Api.Reconciliation;
using ControlPlane.Api.Runtime;
using ControlPlane.Api.Tests.Infrastructure;
using ControlPlane.Api.Tests.Reconciliation;
using Microsoft.EntityFrameworkCore;
using StackExchange.Redis;

namespace ControlPlane.Api.Tests.Chaos;

/// <summary>
/// Faults the control plane itself suffers, on the real parts: the reconciler runs in child
/// processes that are killed with SIGKILL, several at once, against a real Postgres and the real
/// engines; the test's own host serves the API only. Every test ends by checking that the world
/// is clean: no container without its record, no port leased for nothing.
/// </summary>
public abstract class ChaosTest(PostgresFixture postgres) : ReconcilerTest(postgres)
{
    protected override IReadOnlyDictionary<string, string?> ExtraSettings => new Dictionary<string, string?> { ["ControlPlane:Reconciler:Enabled"] = "false" };

    private readonly List<ControlPlaneProcess> _planes = [];

    protected ControlPlaneProcess Start()
    {
        var plane = StartControlPlane();
        _planes.Add(plane);
        return plane;
    }

    /// <summary>The last lines each control plane started here printed, for a failure message.</summary>
    protected string PlanesTail(int lines = 15) =>
        string.Join("\n", _planes.Select((plane, i) =>
            $"control plane {i + 1}:\n  {string.Join("\n  ", plane.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries).TakeLast(lines))}"));

    public override async Task DisposeAsync()
    {
        foreach (var plane in _planes)
            plane.Kill();
        await base.DisposeAsync();
    }

    protected async Task<JsonObject> CreateAsync(string id, object body, TimeSpan? timeout = null)
    {
        await AssertAcceptedAsync(await PostAsync("/v1/replication-groups", body));
        return await WaitForStatusAsync($"/v1/replication-groups/{id}", "available", timeout ?? TimeSpan.FromMinutes(2));
    }

    /// <summary>Waits until the group is available with this many available nodes, none of them the one that was lost.</summary>
    protected async Task WaitForFullStrengthAsync(string id, int nodes, string gone)
    {
        JsonObject? last = null;
        await WaitUntilAsync(async () =>
        {
            last = await GroupAsync(id);
            var all = last["shards"]!.AsArray().SelectMany(s => s!["nodes"]!.AsArray()).ToList();
            return (string?)last["status"] == "available" && all.Count == nodes && all.All(n => (string?)n!["status"] == "available" && (string?)n["id"] != gone);
        }, TimeSpan.FromSeconds(90), () => $"{id} never came back to {nodes} available nodes: {last?.ToJsonString()}\n{EventsText()}");
    }

    protected async Task<JsonObject> GroupAsync(string id) => await BodyAsync(await Client.GetAsync($"/v1/replication-groups/{id}"));

    protected static IReadOnlyList<string> NodeIds(JsonObject group) =>
        group["shards"]!.AsArray().SelectMany(s => s!["nodes"]!.AsArray()).Select(n => (string)n!["id"]!).Order().ToList();

    protected static JsonNode PrimaryOf(JsonObject group, string shard = "0001") =>
        group["shards"]!.AsArray().Single(s => (string?)s!["id"] == shard)!["nodes"]!.AsArray().Single(n => (string?)n!["role"] == "primary")!;

    protected async Task<EndPoint> PrimaryEndpointAsync(string id) => RedisCreateTests.Endpoint((await GroupAsync(id))["primaryEndpoint"]!);

    protected async Task<IReadOnlyList<string>> MessagesAsync(string id) =>
        (await BodyAsync(await Client.GetAsync($"/v1/events?sourceId={id}&limit=100")))["items"]!.AsArray().Select(e => (string)e!["message"]!).ToList();

    /// <summary>Every acknowledged key is on the group's primary (through its endpoint).</summary>
    protected async Task AssertAllPresentAsync(JsonObject group, IReadOnlyList<string> keys)
    {
        await using var client = await Scaling.ConnectAsync(group);
        var db = client.GetDatabase();
        var missing = new List<string>();
        foreach (var chunk in keys.Chunk(2_000))
        {
            var found = await Task.WhenAll(chunk.Select(k => db.KeyExistsAsync(k)));
            missing.AddRange(chunk.Where((_, i) => !found[i]));
        }
        Assert.True(missing.Count == 0, $"{missing.Count} of {keys.Count} acknowledged keys are missing, e.g. {string.Join(", ", missing.Take(5))}");
    }

    /// <summary>
    /// The world matches the records: every container of ours is a node, a group's endpoint or an
    /// idle pool node with its lease; every lease is a node's port, a group's endpoint, a Memcached
    /// cluster's configuration endpoint or an idle pool node's, and a node's lease is the port it runs on. Orphans go on the next pass, so this waits a little.
    /// </summary>
    protected async Task AssertCleanAsync()
    {
        string? problem = "not checked yet";
        await WaitUntilAsync(async () => (problem = await ProblemAsync()) is null, TimeSpan.FromSeconds(30), () => problem!);
    }

    private async Task<string?> ProblemAsync()
    {
        await using var db = Factory.NewDbContext();
        var nodes = (await db.RedisNodes.AsNoTracking().Select(n => new { n.Id, n.Port, n.PoolId }).ToListAsync())
            .Concat((await db.CacheNodes.AsNoTracking().Select(n => new { n.Id, n.Port }).ToListAsync()).Select(n => new { n.Id, n.Port, PoolId = (string?)null }))
            .ToList();
        var endpoints = await db.ReplicationGroups.AsNoTracking().Where(g => g.ClusterMode == Domain.ClusterMode.Disabled).Select(g => g.Id).ToListAsync();
        var leases = await db.PortLeases.AsNoTracking().ToListAsync();
        var containers = new List<(string Zone, string Node, string Name)>();
        foreach (var (zone, engine) in Engines)
            containers.AddRange((await OurContainersAsync(engine)).Select(c => (zone, c.Labels.TryGetValue(Labels.Node, out var node) ? node : "", c.Names[0].TrimStart('/'))));

        var known = nodes.Select(n => n.Id).Concat(nodes.Select(n => n.PoolId).OfType<string>())
            .Concat(endpoints.Select(e => $"{e}-endpoint")).Concat(leases.Select(l => l.NodeId).Where(id => id.StartsWith("pool-", StringComparison.Ordinal))).ToHashSet();
        if (containers.FirstOrDefault(c => !known.Contains(c.Node)) is { Name: not null } orphan)
            return $"orphan container {orphan.Name} in {orphan.Zone}";
        if (containers.GroupBy(c => c.Name).FirstOrDefault(g => g.Count() > 1) is { } twice)
            return $"container {twice.Key} runs in {twice.Count()} zones";
        var portOf = nodes.Where(n => n.Port is not null).ToDictionary(n => n.Id, n => n.Port!.Value);
        var endpointLeases = endpoints.SelectMany(GroupEndpoints.LeaseIds).ToHashSet();
        // A Memcached cluster's configuration endpoint (auto discovery): the port the cluster records.
        var discovery = (await db.CacheClusters.AsNoTracking().Where(c => c.DiscoveryPort != null).Select(c => new { c.Id, c.DiscoveryPort }).ToListAsync())
            .ToDictionary(c => ControlPlane.Api.Reconciliation.DiscoveryEndpoints.LeaseId(c.Id), c => c.DiscoveryPort!.Value);
        var listed = containers.Select(c => c.Node).ToHashSet();
        foreach (var lease in leases)
        {
            var fine = portOf.TryGetValue(lease.NodeId, out var port) ? port == lease.Port
                : discovery.TryGetValue(lease.NodeId, out var configuration) ? configuration == lease.Port
                : endpointLeases.Contains(lease.NodeId) || (lease.NodeId.StartsWith("pool-", StringComparison.Ordinal) && listed.Contains(lease.NodeId));
            if (!fine)
                return $"port {lease.Port} is leased to {lease.NodeId}, which does not use it";
        }
        if (nodes.Where(n => n.Port is not null).GroupBy(n => n.Port).FirstOrDefault(g => g.Count() > 1) is { } shared)
            return $"port {shared.Key} is recorded for {string.Join(" and ", shared.Select(n => n.Id))}";
        return null;
    }
}
