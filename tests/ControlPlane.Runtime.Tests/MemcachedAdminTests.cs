using ControlPlane.Runtime.Tests.Infrastructure;

namespace ControlPlane.Runtime.Tests;

public sealed class MemcachedAdminTests : NodeTest
{
    [Fact]
    public async Task A_memcached_container_answers_version_and_stats()
    {
        var port = FreePorts.Next();
        await Zone('a').RunAsync(MemcachedSpec("m1", port, memoryMiB: 64), Ct);

        var version = await Eventually.UntilAsync(
            () => Memcached.VersionAsync(Loopback, port, Ct), v => v is not null, TimeSpan.FromSeconds(30), "answering");

        Assert.StartsWith("1.6.", version);
        var stats = await Memcached.StatsAsync(Loopback, port, Ct);
        Assert.NotNull(stats);
        Assert.Equal($"{64 << 20}", stats["limit_maxbytes"]);
        Assert.Equal(version, stats["version"]);
    }

    [Fact]
    public async Task Version_of_a_closed_port_is_null() =>
        Assert.Null(await Memcached.VersionAsync(Loopback, FreePorts.Next(), Ct).WaitAsync(TimeSpan.FromSeconds(10)));
}
