using System.Globalization;
using System.Text.Json.Nodes;
using ControlPlane.Api.Tests.Infrastructure;
using ControlPlane.Domain;
using Microsoft.Extensions.DependencyInjection;

namespace ControlPlane.Api.Tests.Reconciliation;

/// <summary>What a parameter group shows is what its nodes run: every value read back from the engines themselves.</summary>
public sealed class ParameterValuesTests(PostgresFixture postgres) : ReconcilerTest(postgres)
{
    [Theory]
    [InlineData("redis", "redis7")]
    [InlineData("valkey", "valkey8")]
    public async Task A_new_groups_nodes_run_every_value_their_parameter_group_shows(string engine, string family)
    {
        var name = $"shown-{engine}";
        Assert.True((await PostAsync("/v1/parameter-groups", new { name, family })).IsSuccessStatusCode);
        var id = $"pv-{engine}";
        await AssertAcceptedAsync(await PostAsync("/v1/replication-groups", new { id, engine, replicasPerShard = 1, parameterGroupName = name }));
        await WaitForStatusAsync($"/v1/replication-groups/{id}", "available");
        JsonObject? group = null;
        await WaitUntilAsync(async () =>
        {
            group = await BodyAsync(await Client.GetAsync($"/v1/replication-groups/{id}"));
            return Nodes(group).All(n => (string?)n["parameterGroupStatus"] == "in-sync");
        }, TimeSpan.FromSeconds(30), () => $"never in sync: {group?.ToJsonString()}");
        var parameters = (await BodyAsync(await Client.GetAsync($"/v1/parameter-groups/{name}")))["parameters"]!.AsArray()
            .ToDictionary(p => (string)p!["name"]!, p => p!);
        var memoryMiB = Factory.Services.GetRequiredService<Catalog>().NodeTypes.First(t => t.Name == (string)group!["nodeType"]!).MemoryMiB;

        // Every immediate parameter, and the start-up ones the engine has a setting for.
        var shown = parameters.Values.Where(p => (string?)p["changeType"] == "immediate" || (string)p["name"]! is "maxclients" or "databases").ToList();
        Assert.Contains(shown, p => (string?)p["name"] == "maxclients");
        foreach (var node in Nodes(group!))
        {
            await using var admin = await AdminAsync(node["endpoint"]!);
            var server = admin.GetServers()[0];
            var running = (await server.ConfigGetAsync("*")).ToDictionary(p => p.Key, p => p.Value);
            var buffers = Buffers(running["client-output-buffer-limit"]);
            foreach (var parameter in shown)
            {
                var (parameterName, value) = ((string)parameter["name"]!, (string?)parameter["value"] ?? "");
                var (setting, expected, actual) = parameterName switch
                {
                    "reserved-memory-percent" => ("maxmemory",
                        (memoryMiB * 1024L * 1024L * (100 - int.Parse(value, CultureInfo.InvariantCulture)) / 100).ToString(CultureInfo.InvariantCulture), running["maxmemory"]),
                    _ when parameterName.StartsWith("client-output-buffer-limit-", StringComparison.Ordinal) =>
                        ("client-output-buffer-limit", value, buffers[parameterName["client-output-buffer-limit-".Length..]]),
                    _ => (parameterName, value, running.GetValueOrDefault(parameterName)),
                };
                Assert.True(expected == actual, $"{node["id"]}: {parameterName} shows {value}, the engine's {setting} is {actual ?? "missing"}");
            }
        }
    }

    [Fact]
    public async Task A_memcached_node_runs_every_value_its_parameter_group_shows()
    {
        await AssertAcceptedAsync(await PostAsync("/v1/cache-clusters", new { id = "pv-mc", engine = "memcached", numNodes = 1 }));
        var cluster = await WaitForStatusAsync("/v1/cache-clusters/pv-mc", "available");
        var parameters = (await BodyAsync(await Client.GetAsync("/v1/parameter-groups/default.memcached1.6")))["parameters"]!.AsArray()
            .ToDictionary(p => (string)p!["name"]!, p => (string?)p!["value"] ?? "");
        var settings = (await MemcachedScalingTests.MemcachedAsync((int)cluster["nodes"]![0]!["endpoint"]!["port"]!, "stats settings\r\n"))
            .Split("\r\n", StringSplitOptions.RemoveEmptyEntries).Where(l => l.StartsWith("STAT ", StringComparison.Ordinal))
            .Select(l => l.Split(' ')).ToDictionary(w => w[1], w => w[2]);
        // Each parameter as memcached's "stats settings" tells it.
        var shown = new Dictionary<string, (string Setting, Func<string, string> AsShown)>
        {
            ["max_simultaneous_connections"] = ("maxconns", v => v),
            ["backlog_queue_limit"] = ("tcp_backlog", v => v),
            ["binding_protocol"] = ("binding_protocol", v => v == "auto" ? "auto-negotiate" : v),
            ["cas_disabled"] = ("cas_enabled", v => v == "1" ? "no" : "yes"),
            ["chunk_size"] = ("chunk_size", v => v),
            ["chunk_size_growth_factor"] = ("growth_factor", v => v),
            ["error_on_memory_exhausted"] = ("evictions", v => v == "1" ? "off" : "on"),
            ["idle_timeout"] = ("idle_timeout", v => v),
            ["lru_crawler"] = ("lru_crawler", v => v == "1" ? "yes" : "no"),
            ["max_item_size"] = ("item_size_max", v => v),
            ["requests_per_event"] = ("reqs_per_event", v => v),
            ["slab_reassign"] = ("slab_reassign", v => v == "1" ? "yes" : "no"),
        };
        Assert.Equal(parameters.Keys.Order(), shown.Keys.Order());
        foreach (var (name, (setting, asShown)) in shown)
            Assert.True(asShown(parameters[name]) == settings.GetValueOrDefault(setting),
                $"{name} shows {parameters[name]}, memcached's {setting} is {settings.GetValueOrDefault(setting) ?? "missing"}");
    }

    /// <summary>CONFIG GET client-output-buffer-limit ("normal 0 0 0 replica ... pubsub 33554432 8388608 60") as ElastiCache's names.</summary>
    private static Dictionary<string, string> Buffers(string text)
    {
        var words = text.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        var limits = new Dictionary<string, string>();
        for (var i = 0; i + 3 < words.Length; i += 4)
        {
            limits[$"{words[i]}-hard-limit"] = words[i + 1];
            limits[$"{words[i]}-soft-limit"] = words[i + 2];
            limits[$"{words[i]}-soft-seconds"] = words[i + 3];
        }
        return limits;
    }

    private static IEnumerable<JsonNode> Nodes(JsonObject group) =>
        group["shards"]!.AsArray().SelectMany(s => s!["nodes"]!.AsArray()).Select(n => n!);
}
