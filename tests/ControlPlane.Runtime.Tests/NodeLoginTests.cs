using ControlPlane.Api.Engines;
using ControlPlane.Api.Security;
using ControlPlane.Runtime.Tests.Infrastructure;
using Microsoft.Extensions.Logging.Abstractions;
using StackExchange.Redis;

namespace ControlPlane.Runtime.Tests;

/// <summary>
/// The control plane's login on real nodes: a node started before node users existed (an upgrade)
/// is given them, so a new, locked replica can sync from it; a locked node refuses a wrong login
/// and its default user cannot be talked into anything.
/// </summary>
public sealed class NodeLoginTests : NodeTest
{
    private sealed class FixedSecrets(NodeSecrets secrets) : INodeSecretSource
    {
        public Task<NodeSecrets> GetAsync(CancellationToken ct) => Task.FromResult(secrets);
    }

    [Fact]
    public async Task An_older_node_is_given_the_control_planes_users_and_a_locked_replica_syncs_from_it()
    {
        var secrets = new NodeSecrets($"admin-{Guid.NewGuid():N}", $"replication-{Guid.NewGuid():N}");
        await using var admin = new RedisAdmin(NullLogger<RedisAdmin>.Instance, null, new FixedSecrets(secrets));
        var (oldPort, newPort) = (FreePorts.Next(), FreePorts.Next());
        await Zone('a').RunAsync(RedisSpec("old", oldPort), Ct);
        var locked = RedisSpec("new", newPort);
        await Zone('b').RunAsync(locked with { Command = [.. locked.Command, .. RedisAcl.NodeArguments(secrets)] }, Ct);
        // The new node answers its admin only: clients are shut out until it is given their users.
        await UntilAnsweringAsync(oldPort);
        await Eventually.UntilAsync(() => admin.ProbeAsync(Loopback, newPort, Ct), s => s is { Loading: false }, Deadline, $"answering on {newPort}");

        Assert.NotNull(await admin.ProbeAsync(Loopback, oldPort, Ct));
        await using (var asAdmin = await ConnectionMultiplexer.ConnectAsync(new ConfigurationOptions
        {
            EndPoints = { { Loopback, oldPort } }, User = NodeSecrets.AdminUser, Password = secrets.AdminPassword,
        }))
            Assert.Equal(NodeSecrets.AdminUser, (string?)await asAdmin.GetServers()[0].ExecuteAsync("ACL", "WHOAMI"));

        await DataCommandAsync(oldPort, "SET", "carried", "over");
        // A node starts shut to clients (its default user is off) until the control plane gives it its group's users.
        using (var early = new System.Net.Sockets.TcpClient())
        {
            await early.ConnectAsync(Loopback, newPort, Ct);
            var stream = early.GetStream();
            await stream.WriteAsync("GET carried\r\n"u8.ToArray(), Ct);
            var reply = new byte[256];
            var read = await stream.ReadAsync(reply, Ct);
            Assert.StartsWith("-NOAUTH", System.Text.Encoding.ASCII.GetString(reply, 0, read));
        }
        await admin.SetClientUsersAsync(Loopback, newPort, ClientAccess.Open, Ct);
        await admin.ReplicaOfAsync(Loopback, newPort, Loopback, oldPort, Ct);
        await Eventually.UntilAsync(() => admin.ProbeAsync(Loopback, newPort, Ct), s => s is { MasterLinkUp: true }, Deadline, "the locked replica syncing");
        Assert.Equal("over", (string?)await DataCommandAsync(newPort, "GET", "carried"));

        // Someone else's secrets: refused, and the refused login changes nothing on the node.
        await using (var stranger = new RedisAdmin(NullLogger<RedisAdmin>.Instance, null,
            new FixedSecrets(new NodeSecrets($"guess-{Guid.NewGuid():N}", $"guess-{Guid.NewGuid():N}"))))
            Assert.Null(await stranger.ProbeAsync(Loopback, newPort, Ct));
        await admin.DisconnectAsync(Loopback, newPort);
        Assert.NotNull(await admin.ProbeAsync(Loopback, newPort, Ct));
        await using var client = await ConnectionMultiplexer.ConnectAsync(new ConfigurationOptions { EndPoints = { { Loopback, newPort } }, AllowAdmin = true });
        var refused = await Assert.ThrowsAsync<RedisServerException>(() => client.GetServers()[0].ExecuteAsync("CONFIG", "GET", "masterauth"));
        Assert.StartsWith("NOPERM", refused.Message);
    }
}
