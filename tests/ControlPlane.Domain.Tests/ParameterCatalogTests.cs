using ControlPlane.Domain;
using ControlPlane.Domain.Parameters;

namespace ControlPlane.Domain.Tests;

public sealed class ParameterCatalogTests
{
    [Theory]
    [InlineData("redis7", "maxmemory-policy", "allkeys-lru", true)]
    [InlineData("redis7", "maxmemory-policy", "noeviction", true)]
    [InlineData("redis7", "maxmemory-policy", "allkeys-everything", false)]
    [InlineData("valkey8", "notify-keyspace-events", "Ex", true)]
    [InlineData("valkey8", "notify-keyspace-events", "", true)]
    [InlineData("valkey8", "notify-keyspace-events", "Exx", false)]
    [InlineData("valkey8", "notify-keyspace-events", "Q", false)]
    [InlineData("redis7", "timeout", "0", true)]
    [InlineData("redis7", "timeout", "10", false)]
    [InlineData("redis7", "timeout", "20", true)]
    [InlineData("redis7", "timeout", "300", true)]
    [InlineData("redis7", "timeout", "-1", false)]
    [InlineData("redis7", "timeout", "1e3", false)]
    [InlineData("redis7", "reserved-memory-percent", "100", true)]
    [InlineData("redis7", "reserved-memory-percent", "101", false)]
    [InlineData("redis7", "list-max-listpack-size", "-5", true)]
    [InlineData("redis7", "list-max-listpack-size", "-6", false)]
    [InlineData("redis7", "slowlog-log-slower-than", "-1", true)]
    [InlineData("redis7", "databases", "32", true)]
    [InlineData("redis7", "maxclients", "100", false)]
    [InlineData("redis7", "no-such-parameter", "1", false)]
    [InlineData("redis7", "max_item_size", "2048", false)]
    [InlineData("memcached1.6", "max_item_size", "2048", true)]
    [InlineData("memcached1.6", "max_item_size", "512", false)]
    [InlineData("memcached1.6", "chunk_size_growth_factor", "1.5", true)]
    [InlineData("memcached1.6", "chunk_size_growth_factor", "2.5", false)]
    [InlineData("memcached1.6", "binding_protocol", "ascii", true)]
    [InlineData("memcached1.6", "cas_disabled", "yes", false)]
    public void Values_are_checked_against_the_allowed_values(string family, string name, string value, bool accepted) =>
        Assert.Equal(accepted, ParameterCatalog.Check(family, name, value) is null);

    [Fact]
    public void The_defaults_are_elasticaches()
    {
        var redis = ParameterCatalog.Effective("redis7", new Dictionary<string, string>());
        Assert.Equal("volatile-lru", redis["maxmemory-policy"]);
        Assert.Equal("25", redis["reserved-memory-percent"]);
        Assert.Equal("", redis["notify-keyspace-events"]);
        Assert.Equal("no", redis["cluster-enabled"]);
        Assert.Equal(redis.Keys.Order(), ParameterCatalog.Effective("valkey8", new Dictionary<string, string>()).Keys.Order());
        Assert.All(ParameterCatalog.Definitions("memcached1.6"), d => Assert.Equal(ChangeType.RequiresReboot, d.ChangeType));
        Assert.Equal("yes", ParameterCatalog.Effective("valkey8", ParameterCatalog.DefaultGroupOverrides("default.valkey8.cluster.on"))["cluster-enabled"]);
    }

    [Fact]
    public void Every_default_is_itself_an_allowed_value()
    {
        foreach (var family in ParameterCatalog.Families)
            foreach (var definition in ParameterCatalog.Definitions(family).Where(d => d.IsModifiable))
                Assert.True(ParameterCatalog.Check(family, definition.Name, definition.Default) is null, $"{family} {definition.Name} {definition.Default}");
    }

    [Theory]
    [InlineData("default.redis7", "redis7")]
    [InlineData("default.redis7.cluster.on", "redis7")]
    [InlineData("default.valkey8.cluster.on", "valkey8")]
    [InlineData("default.memcached1.6", "memcached1.6")]
    [InlineData("default.memcached1.6.cluster.on", null)]
    [InlineData("mine", null)]
    public void Default_groups_are_known_by_name(string name, string? family) =>
        Assert.Equal(family, ParameterCatalog.DefaultGroupFamily(name));

    [Theory]
    [InlineData("redis", "7.0", "redis7")]
    [InlineData("valkey", "8.0", "valkey8")]
    [InlineData("memcached", "1.6", "memcached1.6")]
    public void Engine_versions_have_a_family(string engine, string version, string family) =>
        Assert.Equal(family, Catalog.Family(engine, version));

    [Theory]
    [InlineData(25, 1073741824, 805306368)]
    [InlineData(0, 1073741824, 1073741824)]
    [InlineData(50, 1073741824, 536870912)]
    public void Reserved_memory_percent_becomes_maxmemory(int percent, long memory, long maxmemory)
    {
        var settings = ParameterCatalog.OnlineSettings("redis7", new Dictionary<string, string> { ["reserved-memory-percent"] = $"{percent}" }, memory);
        Assert.Equal($"{maxmemory}", settings.Single(s => s.Name == "maxmemory").Value);
        Assert.DoesNotContain(settings, s => s.Name is "reserved-memory-percent" or "databases" or "cluster-enabled" || s.Name.StartsWith("client-output-buffer-limit-", StringComparison.Ordinal));
        Assert.Equal("normal 0 0 0 pubsub 33554432 8388608 60", settings.Single(s => s.Name == "client-output-buffer-limit").Value);
    }

    [Fact]
    public void Only_changed_start_up_values_reach_the_command_line()
    {
        Assert.Empty(ParameterCatalog.StartupArguments("redis7", ParameterCatalog.Effective("redis7", new Dictionary<string, string>())));
        Assert.Equal(["--databases", "32"], ParameterCatalog.StartupArguments("valkey8", new Dictionary<string, string> { ["databases"] = "32" }));
        // In the family's order, whatever the order given.
        Assert.Equal(["-C", "-o", "idle_timeout=60", "-I", "2097152"], ParameterCatalog.StartupArguments("memcached1.6",
            new Dictionary<string, string> { ["max_item_size"] = "2097152", ["cas_disabled"] = "1", ["idle_timeout"] = "60" }));
    }

    [Fact]
    public void Fingerprints_separate_immediate_from_start_up_values()
    {
        var defaults = ParameterCatalog.Effective("redis7", new Dictionary<string, string>());
        var policy = ParameterCatalog.Effective("redis7", new Dictionary<string, string> { ["maxmemory-policy"] = "allkeys-lru" });
        var databases = ParameterCatalog.Effective("redis7", new Dictionary<string, string> { ["databases"] = "32" });
        Assert.NotEqual(ParameterCatalog.Fingerprint("redis7", defaults, ChangeType.Immediate), ParameterCatalog.Fingerprint("redis7", policy, ChangeType.Immediate));
        Assert.Equal(ParameterCatalog.Fingerprint("redis7", defaults, ChangeType.RequiresReboot), ParameterCatalog.Fingerprint("redis7", policy, ChangeType.RequiresReboot));
        Assert.Equal(ParameterCatalog.Fingerprint("redis7", defaults, ChangeType.Immediate), ParameterCatalog.Fingerprint("redis7", databases, ChangeType.Immediate));
        Assert.NotEqual(ParameterCatalog.Fingerprint("redis7", defaults, ChangeType.RequiresReboot), ParameterCatalog.Fingerprint("redis7", databases, ChangeType.RequiresReboot));
    }
}
