using System.Text.Json.Nodes;
using ControlPlane.Api.Security;
using ControlPlane.Api.Tests.Infrastructure;
using ControlPlane.Api.Tests.Reconciliation;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using StackExchange.Redis;

namespace ControlPlane.Api.Tests.Security;

/// <summary>
/// What a client can and cannot do on a real node, whatever credential it holds: the commands the
/// contract restricts belong to the control plane's own admin user, which nobody else can log in as.
/// </summary>
public sealed class NodeAccessTests(PostgresFixture postgres) : ReconcilerTest(postgres)
{
    /// <summary>One call of each restricted command (and subcommand), harmless had it run.</summary>
    public static readonly object[][] Restricted =
    [
        ["CONFIG", "SET", "maxmemory-policy", "allkeys-lru"], ["CONFIG", "GET", "maxmemory"], ["DEBUG", "SLEEP", "0"],
        ["MODULE", "LIST"], ["SHUTDOWN", "NOSAVE"], ["SAVE"], ["BGSAVE"], ["BGREWRITEAOF"],
        ["REPLICAOF", "127.0.0.1", "1"], ["SLAVEOF", "NO", "ONE"], ["SYNC"], ["PSYNC", "?", "-1"],
        ["MIGRATE", "127.0.0.1", "1", "k", "0", "100"], ["FAILOVER", "ABORT"],
        ["ACL", "SETUSER", "intruder", "on", ">intruder-password", "+@all"], ["ACL", "DELUSER", NodeSecrets.AdminUser],
        ["ACL", "SAVE"], ["ACL", "LOAD"],
        ["CLUSTER", "RESET"], ["CLUSTER", "MEET", "127.0.0.1", "1"], ["CLUSTER", "FORGET", "x"], ["CLUSTER", "ADDSLOTS", "1"],
        ["CLUSTER", "SETSLOT", "1", "STABLE"], ["CLUSTER", "FAILOVER"], ["CLUSTER", "REPLICATE", "x"],
    ];

    [Fact]
    public async Task Clients_never_run_restricted_commands_and_the_control_plane_still_runs_the_group()
    {
        await AssertAcceptedAsync(await PostAsync("/v1/replication-groups", new { id = "locked", replicasPerShard = 1 }));
        var group = await WaitForStatusAsync("/v1/replication-groups/locked", "available");
        var nodes = group["shards"]![0]!["nodes"]!.AsArray().Select(n => n!).ToList();
        var primary = nodes.Single(n => (string?)n["role"] == "primary");
        var replica = nodes.Single(n => (string?)n["role"] == "replica");

        // Stored once per database, encrypted: the row is not the password.
        var secrets = await Factory.Services.GetRequiredService<NodeSecretStore>().GetAsync(CancellationToken.None);
        await using (var db = Factory.NewDbContext())
        {
            var rows = await db.NodeSecrets.ToListAsync();
            Assert.Equal(2, rows.Count);
            Assert.All(rows, r => Assert.DoesNotContain(secrets.AdminPassword, r.Protected));
            Assert.DoesNotContain(rows, r => r.Protected.Contains(secrets.ReplicationPassword));
        }

        // Clients: the default user directly, the default user through the primary endpoint, the
        // replication user (its password would only be known to someone who read a container).
        var credentials = new (string Name, JsonNode Endpoint, string? User, string? Password)[]
        {
            ("default user on the primary", primary["endpoint"]!, null, null),
            ("default user on the replica", replica["endpoint"]!, null, null),
            ("default user through the primary endpoint", group["primaryEndpoint"]!, null, null),
            ("replication user", primary["endpoint"]!, NodeSecrets.ReplicationUser, secrets.ReplicationPassword),
        };
        foreach (var (name, endpoint, user, password) in credentials)
        {
            // A raw connection: a client library refuses some of these itself (SYNC, PSYNC) before the node sees them.
            await using var client = await RawRedis.ConnectAsync(endpoint);
            if (user is not null)
                Assert.Equal("+OK", await client.SendAsync("AUTH", user, password!));
            // The replication user is the control plane's, not a client's; it can replicate and nothing else.
            var replicating = user == NodeSecrets.ReplicationUser;
            if (replicating)
                Assert.StartsWith("-NOPERM", await client.SendAsync("GET", "still-writable"));
            foreach (var command in Restricted.Where(c => !replicating || (string)c[0] is not ("SYNC" or "PSYNC")))
            {
                var answer = await client.SendAsync(command.Select(c => c.ToString()!).ToArray());
                // DEBUG and MODULE are also off for everyone (enable-debug-command, enable-module-command), which answers first.
                Assert.True(answer.StartsWith("-NOPERM", StringComparison.Ordinal) || answer.Contains("command not allowed", StringComparison.Ordinal),
                    $"{name}: {string.Join(' ', command)} answered {answer}");
            }
            Assert.Equal("+PONG", await client.SendAsync("PING"));
        }

        // Nobody logs in as the admin without its password, and the default user still has every data command.
        await using (var guesser = await RawRedis.ConnectAsync(primary["endpoint"]!))
            Assert.StartsWith("-WRONGPASS", await guesser.SendAsync("AUTH", NodeSecrets.AdminUser, "guessed-password-1234"));
        await using (var client = await ConnectionMultiplexer.ConnectAsync(new ConfigurationOptions { EndPoints = { RedisCreateTests.Endpoint(group["primaryEndpoint"]!) } }))
        {
            await client.GetDatabase().StringSetAsync("still-writable", "yes");
            Assert.Equal(2L, (long)await client.GetDatabase().ExecuteAsync("HSET", "h", "a", "1", "b", "2"));
        }
        await using (var reader = await ConnectionMultiplexer.ConnectAsync(new ConfigurationOptions { EndPoints = { RedisCreateTests.Endpoint(replica["endpoint"]!) } }))
            await WaitUntilAsync(async () => await reader.GetDatabase().StringGetAsync("still-writable", CommandFlags.PreferReplica) == "yes",
                TimeSpan.FromSeconds(10), () => "the replica (logged in to its primary as the replication user) never got the write");

        // The control plane's own login runs what clients may not: a test failover swaps the roles.
        await AssertAcceptedAsync(await PostAsync("/v1/replication-groups/locked/test-failover", new { shardId = "0001" }));
        await WaitUntilAsync(async () =>
        {
            var now = await BodyAsync(await Client.GetAsync("/v1/replication-groups/locked"));
            return (string?)now["status"] == "available"
                && now["shards"]![0]!["nodes"]!.AsArray().Any(n => (string?)n!["id"] == (string?)replica["id"] && (string?)n["role"] == "primary");
        }, TimeSpan.FromSeconds(60), EventsText);
        await using (var admin = await AdminAsync(replica["endpoint"]!))
            Assert.Equal("yes", (string?)await admin.GetDatabase().StringGetAsync("still-writable"));
    }
}

/// <summary>RESP over a bare socket: one command, its first reply line.</summary>
public sealed class RawRedis : IAsyncDisposable
{
    private readonly System.Net.Sockets.TcpClient _tcp;
    private readonly StreamReader _reader;
    private readonly Stream _stream;

    private RawRedis(System.Net.Sockets.TcpClient tcp, Stream stream)
    {
        _tcp = tcp;
        _stream = stream;
        _reader = new StreamReader(stream, System.Text.Encoding.UTF8);
    }

    public static async Task<RawRedis> ConnectAsync(JsonNode endpoint)
    {
        var tcp = new System.Net.Sockets.TcpClient();
        await tcp.ConnectAsync((string)endpoint["host"]!, (int)endpoint["port"]!);
        return new RawRedis(tcp, tcp.GetStream());
    }

    public async Task<string> SendAsync(params string[] args)
    {
        var text = new System.Text.StringBuilder($"*{args.Length}\r\n");
        foreach (var arg in args)
            text.Append($"${System.Text.Encoding.UTF8.GetByteCount(arg)}\r\n{arg}\r\n");
        await _stream.WriteAsync(System.Text.Encoding.UTF8.GetBytes(text.ToString()));
        var line = await _reader.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(10)) ?? "(closed)";
        // A bulk or array reply: its first element is enough to tell success from refusal; drain the rest.
        while (_tcp.Available > 0)
            await _reader.ReadLineAsync();
        return line;
    }

    public ValueTask DisposeAsync()
    {
        _tcp.Dispose();
        return ValueTask.CompletedTask;
    }
}
