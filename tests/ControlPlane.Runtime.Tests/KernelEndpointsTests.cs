using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using ControlPlane.Api.Engines;
using ControlPlane.Api.Options;
using ControlPlane.Api.Reconciliation;
using ControlPlane.Api.Runtime;
using ControlPlane.Runtime.Tests.Infrastructure;
using Microsoft.Extensions.Logging.Abstractions;
using Xunit.Abstractions;

namespace ControlPlane.Runtime.Tests;

/// <summary>
/// The kernel endpoints on this host's real netfilter (the tests run as root), in front of real Redis
/// nodes: each test has a table of its own, removed at the end.
/// </summary>
public sealed class KernelEndpointsTests(ITestOutputHelper output) : NodeTest
{
    private readonly Netfilter _netfilter = new();
    private readonly string _instance = $"k{Guid.NewGuid():N}"[..12];
    private readonly int _primaryPort = FreePorts.Next(), _readerPort = FreePorts.Next();

    [Fact]
    public async Task The_primary_port_reaches_the_primary_and_the_reader_port_spreads_connections_over_the_replicas()
    {
        var (primary, replicas) = await PrimaryAndReplicasAsync(2);
        var kernel = Kernel();
        await kernel.ApplyAsync(Forwarding(primary, replicas), Ct);

        var stopwatch = Stopwatch.StartNew();
        Assert.Equal(await Resp.RunIdAsync(primary), await Resp.RunIdAsync(_primaryPort));
        output.WriteLine($"first command through the primary endpoint {stopwatch.Elapsed.TotalMilliseconds:0.0} ms");
        Assert.Equal("OK", await Resp.CallAsync(_primaryPort, "SET", "greeting", "hello"));
        var replicaIds = new[] { await Resp.RunIdAsync(replicas[0]), await Resp.RunIdAsync(replicas[1]) };
        var seen = new List<string>();
        for (var i = 0; i < 6; i++)
            seen.Add(await Resp.RunIdAsync(_readerPort));
        // Per connection, in turn: six connections reach both replicas three times each, never the primary.
        Assert.All(replicaIds, id => Assert.Equal(3, seen.Count(s => s == id)));
        var refused = await Assert.ThrowsAsync<RespErrorException>(() => Resp.CallAsync(_readerPort, "SET", "greeting", "bye"));
        Assert.StartsWith("READONLY", refused.Message);
    }

    [Fact]
    public async Task A_failover_moves_new_connections_resets_those_of_nodes_that_left_and_keeps_those_of_nodes_that_stay()
    {
        var (primary, replicas) = await PrimaryAndReplicasAsync(2);
        var kernel = Kernel();
        await kernel.ApplyAsync(Forwarding(primary, replicas), Ct);
        await using var writer = await RespConnection.OpenAsync(_primaryPort, Ct);
        Assert.Equal("OK", await writer.CallAsync(Ct, "SET", "before", "failover"));
        // Two reader connections, one on each replica (in turn).
        await using var reader1 = await RespConnection.OpenAsync(_readerPort, Ct);
        await using var reader2 = await RespConnection.OpenAsync(_readerPort, Ct);
        var onFirst = Resp.RunIdOf((string?)await reader1.CallAsync(Ct, "INFO", "server"), _readerPort) == await Resp.RunIdAsync(replicas[0]);
        var (stays, promoted) = onFirst ? (reader2, reader1) : (reader1, reader2);

        // The old primary stays up (a switchover, or a primary cut off): nothing in the kernel would end its clients' connections.
        await Redis.PromoteAsync(Loopback, replicas[0], Ct);
        await kernel.ApplyAsync(Forwarding(replicas[0], [replicas[1]]), Ct);

        // New connections go to the new primary at once.
        Assert.Equal(await Resp.RunIdAsync(replicas[0]), await Resp.RunIdAsync(_primaryPort));
        Assert.Equal("OK", await Resp.CallAsync(_primaryPort, "SET", "after", "failover"));
        // The writer's connection to the old primary is reset, not left talking to a demoted or lost node.
        await AssertResetAsync(writer);
        // So is the reader connection of the replica that left the reader endpoint.
        await AssertResetAsync(promoted);
        // The reader connection of the replica that stays is untouched.
        Assert.Equal("PONG", await stays.CallAsync(Ct, "PING"));
        Assert.Equal(await Resp.RunIdAsync(replicas[1]), await Resp.RunIdAsync(_readerPort));
    }

    [Fact]
    public async Task A_restart_rebuilds_exactly_the_given_groups_and_keeps_established_connections()
    {
        var (primary, replicas) = await PrimaryAndReplicasAsync(1);
        var other = new GroupForwarding("other", IPAddress.Loopback, [new PortForward(FreePorts.Next(), [new IPEndPoint(IPAddress.Loopback, primary)])]);
        var before = Kernel();
        await before.ApplyAsync(Forwarding(primary, replicas), Ct);
        await before.ApplyAsync(other, Ct);
        await using var client = await RespConnection.OpenAsync(_primaryPort, Ct);
        Assert.Equal("PONG", await client.CallAsync(Ct, "PING"));

        // A new process: whatever the kernel holds, the table becomes what the database says (here: one group).
        var after = Kernel();
        await after.RebuildAsync([Forwarding(primary, replicas)], Ct);
        await after.RebuildAsync([Forwarding(primary, replicas)], Ct);

        var table = await TableAsync();
        var group = Assert.Single(table.Groups);
        Assert.Equal(Forwarding(primary, replicas).Canonical(), group.Value.Canonical());
        Assert.Equal(2, Assert.Single(table.Keys).Value.Count);
        Assert.Equal(2, RuleCount(await _netfilter.ListAsync(Table, Ct) ?? ""));
        // The NAT of an established connection lives in conntrack, not in the rules: it carries on.
        Assert.Equal("PONG", await client.CallAsync(Ct, "PING"));
    }

    [Fact]
    public async Task A_sweep_removes_the_rules_of_groups_the_database_does_not_know()
    {
        var (primary, replicas) = await PrimaryAndReplicasAsync(1);
        var kernel = Kernel();
        await kernel.ApplyAsync(Forwarding(primary, replicas), Ct);
        await using var client = await RespConnection.OpenAsync(_primaryPort, Ct);
        Assert.Equal("PONG", await client.CallAsync(Ct, "PING"));

        Assert.True(await kernel.SweepAsync(new HashSet<string> { "someone-else" }, Ct));

        Assert.Empty((await TableAsync()).Groups);
        Assert.Empty((await TableAsync()).Keys);
        await AssertResetAsync(client);
        await Assert.ThrowsAsync<SocketException>(() => Resp.CallAsync(_primaryPort, "PING"));
    }

    [Fact]
    public async Task A_port_of_one_group_is_never_taken_by_another()
    {
        var (primary, replicas) = await PrimaryAndReplicasAsync(1);
        var kernel = Kernel();
        await kernel.ApplyAsync(Forwarding(primary, replicas), Ct);
        var thief = new GroupForwarding("thief", IPAddress.Loopback, [new PortForward(_primaryPort, [new IPEndPoint(IPAddress.Loopback, replicas[0])])]);

        await Assert.ThrowsAsync<InvalidOperationException>(() => kernel.ApplyAsync(thief, Ct));

        Assert.Equal(await Resp.RunIdAsync(primary), await Resp.RunIdAsync(_primaryPort));
        Assert.DoesNotContain("thief", (await TableAsync()).Groups.Keys);
    }

    public override async Task DisposeAsync()
    {
        await _netfilter.ApplyAsync($"add table ip {Table}\ndelete table ip {Table}\n", CancellationToken.None);
        await base.DisposeAsync();
    }

    private string Table => NftRuleset.TableName(_instance);

    private KernelEndpoints Kernel() => new(_netfilter,
        Microsoft.Extensions.Options.Options.Create(new ControlPlaneOptions { Reconciler = new ReconcilerOptions { Instance = _instance } }),
        NullLogger<KernelEndpoints>.Instance);

    private GroupForwarding Forwarding(int primary, IReadOnlyList<int> replicas) =>
        new(Group, IPAddress.Loopback,
        [
            new PortForward(_primaryPort, [new IPEndPoint(IPAddress.Loopback, primary)]),
            new PortForward(_readerPort, replicas.Select(r => new IPEndPoint(IPAddress.Loopback, r)).ToList()),
        ]);

    private async Task<NftTable> TableAsync() => NftRuleset.Parse(await _netfilter.ListAsync(Table, Ct) ?? throw new InvalidOperationException("no table"));

    private static int RuleCount(string json) => json.Split("\"rule\":").Length - 1 - 2; // less the two hook chains' lookups

    /// <summary>The next command on the connection fails with a reset (or an end of stream), not a timeout.</summary>
    private async Task AssertResetAsync(RespConnection connection)
    {
        using var quick = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        quick.CancelAfter(TimeSpan.FromSeconds(5));
        var error = await Assert.ThrowsAnyAsync<Exception>(() => connection.CallAsync(quick.Token, "PING"));
        Assert.True(error is IOException or SocketException, $"expected a reset, got {error}");
    }

    /// <summary>A primary in zone a and its replicas in zones b and c, in sync.</summary>
    private async Task<(int Primary, IReadOnlyList<int> Replicas)> PrimaryAndReplicasAsync(int count)
    {
        var primary = FreePorts.Next();
        var replicas = Enumerable.Range(0, count).Select(_ => FreePorts.Next()).ToList();
        await Zone('a').RunAsync(RedisSpec("p", primary), Ct);
        for (var i = 0; i < count; i++)
            await Zone(i == 0 ? 'b' : 'c').RunAsync(RedisSpec($"r{i}", replicas[i]), Ct);
        await UntilAnsweringAsync([primary, .. replicas]);
        foreach (var replica in replicas)
        {
            // Told again until it takes: on a machine running every suite at once, a node that has just
            // started can outlast the admin client's command timeout.
            await Eventually.UntilAsync(async () =>
            {
                try
                {
                    await Redis.ReplicaOfAsync(Loopback, replica, Loopback, primary, Ct);
                    return true;
                }
                catch (EngineException)
                {
                    return false;
                }
            }, Deadline, () => $"127.0.0.1:{replica} never took REPLICAOF");
            await Eventually.UntilAsync(() => Redis.ProbeAsync(Loopback, replica, Ct), s => s is { MasterLinkUp: true }, Deadline, "linked to the primary");
        }
        return (primary, replicas);
    }
}
