using System.Net;
using System.Text.Json.Nodes;
using ControlPlane.Api.Tests.Infrastructure;
using ControlPlane.Api.Tests.Reconciliation;
using Docker.DotNet.Models;
using StackExchange.Redis;

namespace ControlPlane.Api.Tests.Security;

/// <summary>
/// TLS in transit against real Redis, Valkey and Memcached nodes: clients use the authority from
/// GET /v1/ca.pem, as a user's client would; plain text is refused where TLS is required.
/// </summary>
public sealed class TransitEncryptionTests(PostgresFixture postgres) : ReconcilerTest(postgres)
{
    protected override IReadOnlyDictionary<string, string?> ExtraSettings => new Dictionary<string, string?>
    {
        ["ControlPlane:Metrics:Interval"] = "00:00:01",
    };

    [Fact]
    public async Task A_tls_group_serves_tls_clients_through_its_endpoints_replicates_over_tls_and_refuses_plain_text()
    {
        var group = await CreateAsync("tls-one", new { id = "tls-one", replicasPerShard = 1, transitEncryption = true });
        Assert.True((bool)group["transitEncryption"]!);
        Assert.Equal("required", (string?)group["transitEncryptionMode"]);
        var tls = await TlsClient.FetchAsync(Client);

        await using (var client = await tls.ConnectAsync(RedisCreateTests.Endpoint(group["primaryEndpoint"]!)))
        {
            for (var i = 0; i < 100; i++)
                await client.GetDatabase().StringSetAsync($"k{i}", $"v{i}");
            Assert.Equal(1, (long)await client.GetDatabase().ExecuteAsync("WAIT", 1, 2000));
        }
        Assert.Contains("CN=tls-one-0001-00", tls.LastSeen!.Subject);
        // The replica got them over its TLS link, and answers TLS clients itself (reader endpoint).
        await using (var reader = await tls.ConnectAsync(RedisCreateTests.Endpoint(group["readerEndpoint"]!)))
            Assert.Equal("v99", (string?)await reader.GetDatabase().StringGetAsync("k99"));

        foreach (var port in Ports(group).Append((int)group["primaryEndpoint"]!["port"]!))
            Assert.Null(await TlsClient.PlainTextAsync(port, "PING\r\n", r => r.EndsWith("\r\n", StringComparison.Ordinal)));
        // The control plane talks TLS to the nodes: its metrics collector reads them, the slow log answers, a snapshot is taken.
        var text = "";
        await WaitUntilAsync(async () =>
        {
            text = await Client.GetStringAsync("/metrics");
            return text.Split('\n').Any(l => l.StartsWith("controlplane_node_curr_items{", StringComparison.Ordinal)
                && l.Contains("node=\"tls-one-0001-001\"", StringComparison.Ordinal) && l.EndsWith(" 100", StringComparison.Ordinal));
        }, TimeSpan.FromSeconds(30), () => $"the collector never read the TLS node:\n{text}");
        Assert.Equal(HttpStatusCode.OK, (await Client.GetAsync("/v1/replication-groups/tls-one/slow-log")).StatusCode);
        await AssertAcceptedAsync(await PostAsync("/v1/snapshots", new { name = "tls-one-snap", replicationGroupId = "tls-one" }));
        await WaitForStatusAsync("/v1/snapshots/tls-one-snap", "available");
        // A client that does not trust our authority does not get through either.
        var stranger = new TlsClient(System.Security.Cryptography.X509Certificates.X509CertificateLoader.LoadCertificate(tls.LastSeen!.RawData));
        await Assert.ThrowsAsync<RedisConnectionException>(() => stranger.ConnectAsync(RedisCreateTests.Endpoint(group["primaryEndpoint"]!)));
    }

    [Fact]
    public async Task A_tls_cluster_in_cluster_mode_serves_tls_clients_on_every_shard_and_its_bus_runs_tls()
    {
        var group = await CreateAsync("tls-cm", new { id = "tls-cm", engine = "valkey", clusterMode = "enabled", numShards = 2, replicasPerShard = 1, transitEncryption = true });
        var tls = await TlsClient.FetchAsync(Client);
        await using var cluster = await ConnectionMultiplexer.ConnectAsync(tls.Options(RedisCreateTests.Endpoint(group["configurationEndpoint"]!)));
        var db = cluster.GetDatabase();
        for (var i = 0; i < 200; i++)
            await db.StringSetAsync($"key:{i}", i);
        for (var i = 0; i < 200; i++)
            Assert.Equal(i, (int)await db.StringGetAsync($"key:{i}"));
        // Keys went to both shards (MOVED answers name TLS ports), and the cluster is whole over its TLS bus.
        foreach (var primary in group["shards"]!.AsArray().Select(s => s!["nodes"]!.AsArray().Single(n => (string?)n!["role"] == "primary")!))
        {
            await using var direct = await ConnectionMultiplexer.ConnectAsync(tls.Options(RedisCreateTests.Endpoint(primary["endpoint"]!), allowAdmin: true));
            var server = direct.GetServer(RedisCreateTests.Endpoint(primary["endpoint"]!));
            Assert.True(await server.DatabaseSizeAsync() > 0, $"{primary["id"]} holds no key");
            Assert.Contains("cluster_state:ok", (string?)await server.ExecuteAsync("CLUSTER", "INFO"));
        }
        foreach (var port in Ports(group))
            Assert.Null(await TlsClient.PlainTextAsync(port, "PING\r\n", r => r.EndsWith("\r\n", StringComparison.Ordinal)));
    }

    [Theory]
    [InlineData("tls-steps", "disabled")]
    [InlineData("tls-steps-cm", "enabled")]
    public async Task Plain_text_to_preferred_to_required_online_on_the_same_ports_without_dropping_a_client(string id, string clusterMode)
    {
        var cluster = clusterMode == "enabled";
        var group = await CreateAsync(id, cluster
            ? new { id, clusterMode, numShards = 2, replicasPerShard = 1 }
            : (object)new { id, clusterMode, replicasPerShard = 1 });
        Assert.Null((string?)group["transitEncryptionMode"]);
        var endpoint = RedisCreateTests.Endpoint(group[cluster ? "configurationEndpoint" : "primaryEndpoint"]!);
        var endpointPort = ((IPEndPoint)endpoint).Port;
        var primaryPort = (int)group["shards"]![0]!["nodes"]!.AsArray().Single(n => (string?)n!["role"] == "primary")!["endpoint"]!["port"]!;
        // A plain-text client writes continuously through the endpoint while the group moves to preferred.
        await using var plain = await ConnectionMultiplexer.ConnectAsync(Plain(endpoint));
        await plain.GetDatabase().StringSetAsync("before", "plain");
        await using var plainWriter = Writer.Start(plain, "plain");
        await plainWriter.WaitForAsync(50);

        // Skipping a step is refused, and changes nothing.
        await AssertProblemAsync(await PatchAsync($"/v1/replication-groups/{id}", new { transitEncryption = true, transitEncryptionMode = "required" }),
            HttpStatusCode.BadRequest, "InvalidParameterCombination", "transitEncryptionMode");
        Assert.Null((string?)(await BodyAsync(await Client.GetAsync($"/v1/replication-groups/{id}")))["transitEncryptionMode"]);

        await AssertAcceptedAsync(await PatchAsync($"/v1/replication-groups/{id}", new { transitEncryption = true, transitEncryptionMode = "preferred" }));
        var tls = await TlsClient.FetchAsync(Client);
        // Each node takes TLS on its own port once it moved (its multiplexer in front), and plain text still.
        await WaitUntilAsync(async () => await AllAsync(Ports(group), p => TlsPingAsync(tls, p)), TimeSpan.FromSeconds(60),
            () => $"{id}: not every node port takes TLS\n{EventsText()}");
        // The group is modifying until every node took the step.
        Assert.Equal("preferred", (string?)(await WaitForStatusAsync($"/v1/replication-groups/{id}", "available"))["transitEncryptionMode"]);
        // The plain-text client made before kept writing through the move; its failed commands are counted (the figure the README gives).
        var atPreferred = plainWriter.Done;
        await plainWriter.WaitForAsync(atPreferred + 50);
        Assert.True(plainWriter.Errors.Count == 0, $"{plainWriter.Errors.Count} failed command(s) on the plain-text client during the move: {string.Join("; ", plainWriter.Errors.Take(3))}");
        Assert.Equal("plain", (string?)await plain.GetDatabase().StringGetAsync("before"));

        // A TLS client and a plain-text one both served on the same endpoint and the same node port.
        await AssertBothServedAsync(tls, new[] { endpointPort, primaryPort }.Concat(Ports(group)));
        await using (var newPlain = await ConnectionMultiplexer.ConnectAsync(Plain(endpoint)))
        await using (var newTls = await ConnectionMultiplexer.ConnectAsync(tls.Options(endpoint)))
        {
            // In cluster mode both are sent on to the other shards' own ports (MOVED, CLUSTER SLOTS), which speak both too.
            for (var i = 0; i < 20; i++)
            {
                await newPlain.GetDatabase().StringSetAsync($"plain:{i}", i);
                Assert.Equal(i, (int)await newTls.GetDatabase().StringGetAsync($"plain:{i}"));
            }
        }

        if (cluster)
            await AssertClusterNamesNodePortsAsync(endpoint, Ports(group));

        // Preferred -> required under a TLS client writing continuously: not one failed command.
        await using var tlsClient = await ConnectionMultiplexer.ConnectAsync(tls.Options(endpoint));
        await using var tlsWriter = Writer.Start(tlsClient, "tls");
        await tlsWriter.WaitForAsync(50);
        var plainErrorsBefore = plainWriter.Errors.Count;
        await AssertAcceptedAsync(await PatchAsync($"/v1/replication-groups/{id}", new { transitEncryptionMode = "required" }));
        await WaitUntilAsync(async () => await AllAsync(Ports(group), async p => await TlsClient.PlainTextAsync(p, "PING\r\n", r => r.EndsWith("\r\n", StringComparison.Ordinal)) is null),
            TimeSpan.FromSeconds(60), () => $"{id}: a node port still takes plain text\n{EventsText()}");
        var required = await WaitForNodesAsync(id, _ => true);
        Assert.Equal("required", (string?)required["transitEncryptionMode"]);
        var atRequired = tlsWriter.Done;
        await tlsWriter.WaitForAsync(atRequired + 50);
        await tlsWriter.StopAsync();
        Assert.True(tlsWriter.Errors.Count == 0, $"{tlsWriter.Errors.Count} failed command(s) on the TLS client: {string.Join("; ", tlsWriter.Errors.Take(3))}");
        // The plain-text client is let go and refused from then on, on the endpoint and on every node port.
        await WaitUntilAsync(() => Task.FromResult(plainWriter.Errors.Count > plainErrorsBefore), TimeSpan.FromSeconds(20), () => "the plain-text client is still served");
        await plainWriter.StopAsync();
        foreach (var port in Ports(group).Append(endpointPort))
            Assert.Null(await TlsClient.PlainTextAsync(port, "PING\r\n", r => r.EndsWith("\r\n", StringComparison.Ordinal)));

        // Nothing was lost, and replication runs over TLS too: the replicas have every write.
        await using var check = await ConnectionMultiplexer.ConnectAsync(tls.Options(endpoint));
        Assert.Equal("plain", (string?)await check.GetDatabase().StringGetAsync("before"));
        Assert.Equal(19, (int)await check.GetDatabase().StringGetAsync("plain:19"));
        Assert.Equal($"{tlsWriter.Done - 1}", (string?)await check.GetDatabase().StringGetAsync($"tls:{tlsWriter.Done - 1}"));
        foreach (var replica in required["shards"]!.AsArray().SelectMany(s => s!["nodes"]!.AsArray()).Where(n => (string?)n!["role"] == "replica"))
        {
            await using var direct = await ConnectionMultiplexer.ConnectAsync(tls.Options(RedisCreateTests.Endpoint(replica!["endpoint"]!), allowAdmin: true));
            var info = (string?)await direct.GetServer(RedisCreateTests.Endpoint(replica["endpoint"]!)).ExecuteAsync("INFO", "replication") ?? "";
            Assert.True(info.Contains("master_link_status:up", StringComparison.Ordinal), $"replica {replica["id"]}: {info}\n{EventsText()}");
        }
        // One step further is refused: required is the last.
        await AssertProblemAsync(await PatchAsync($"/v1/replication-groups/{id}", new { transitEncryption = false }),
            HttpStatusCode.BadRequest, "InvalidParameterCombination", "transitEncryption");
    }

    [Theory]
    [InlineData("tls-pref", "disabled")]
    [InlineData("tls-pref-cm", "enabled")]
    public async Task A_group_in_preferred_mode_fails_over_and_reboots_under_a_plain_text_and_a_tls_writer_losing_no_acknowledged_write(string id, string clusterMode)
    {
        var cluster = clusterMode == "enabled";
        var group = await CreateAsync(id, cluster
            ? new { id, clusterMode, numShards = 2, replicasPerShard = 1, transitEncryption = true, transitEncryptionMode = "preferred" }
            : (object)new { id, clusterMode, replicasPerShard = 2, transitEncryption = true, transitEncryptionMode = "preferred" });
        Assert.Equal("preferred", (string?)group["transitEncryptionMode"]);
        var tls = await TlsClient.FetchAsync(Client);
        // Created in preferred mode: every node takes both on its own port from the start.
        await AssertBothServedAsync(tls, Ports(group));
        var endpoint = RedisCreateTests.Endpoint(group[cluster ? "configurationEndpoint" : "primaryEndpoint"]!);
        if (cluster)
            await AssertClusterNamesNodePortsAsync(endpoint, Ports(group));
        var primary = group["shards"]![0]!["nodes"]!.AsArray().Single(n => (string?)n!["role"] == "primary")!;
        var nodeCount = Ports(group).Count();
        // In cluster mode the configuration endpoint is a primary's own: read again after the failover.
        async Task<EndPoint> Current() => cluster
            ? RedisCreateTests.Endpoint((await BodyAsync(await Client.GetAsync($"/v1/replication-groups/{id}")))["configurationEndpoint"]!)
            : endpoint;
        await using var plainWriter = await AcknowledgedWriter.StartAsync(Current, cluster);
        await using var tlsWriter = await AcknowledgedWriter.StartAsync(Current, cluster, tls.Configure);
        await plainWriter.WaitForAsync(50);
        await tlsWriter.WaitForAsync(50);

        var zone = (string)primary["availabilityZone"]!;
        using (var docker = Docker(Engines[zone]))
            await docker.Containers.KillContainerAsync($"{Instance}-{primary["id"]}", new ContainerKillParameters { Signal = "SIGKILL" });
        var after = await WaitForNodesAsync(id, n => (string?)n["id"] != (string?)primary["id"], count: nodeCount, timeout: TimeSpan.FromSeconds(90));
        await plainWriter.WaitForAsync(plainWriter.Acknowledged.Count + 50);
        await tlsWriter.WaitForAsync(tlsWriter.Acknowledged.Count + 50);
        // The replacement took both on its own port too; the dead node's multiplexer went with it.
        await AssertBothServedAsync(tls, Ports(after));
        await WaitUntilAsync(async () => (await OurContainersAsync(Engines[zone])).All(c => !c.Names.Any(n => n.Contains($"{primary["id"]}-mux", StringComparison.Ordinal))),
            TimeSpan.FromSeconds(30), () => "the failed node's multiplexer is still there");

        // Rebooted, every node starts again on its inner ports with its multiplexer in front (and in cluster mode its bus where it was).
        var ids = after["shards"]!.AsArray().SelectMany(s => s!["nodes"]!.AsArray()).Select(n => (string)n!["id"]!).ToArray();
        await AssertAcceptedAsync(await PostAsync($"/v1/replication-groups/{id}/reboot", new { nodeIds = ids }));
        var rebooted = await WaitForStatusAsync($"/v1/replication-groups/{id}", "available", TimeSpan.FromMinutes(4));
        Assert.Equal(Ports(after).Order(), Ports(rebooted).Order());
        await plainWriter.WaitForAsync(plainWriter.Acknowledged.Count + 50);
        await tlsWriter.WaitForAsync(tlsWriter.Acknowledged.Count + 50);
        var plainAcknowledged = await plainWriter.StopAsync();
        var tlsAcknowledged = await tlsWriter.StopAsync();
        await AssertBothServedAsync(tls, Ports(rebooted));
        endpoint = await Current();
        if (cluster)
            await AssertClusterNamesNodePortsAsync(endpoint, Ports(rebooted));
        await using (var client = await ConnectionMultiplexer.ConnectAsync(Plain(endpoint)))
            await AcknowledgedWriter.AssertKeptAsync(client, [.. plainAcknowledged, .. tlsAcknowledged]);
        await using (var client = await tls.ConnectAsync(endpoint))
            await AcknowledgedWriter.AssertKeptAsync(client, [.. plainAcknowledged, .. tlsAcknowledged]);
    }

    private static async Task AssertBothServedAsync(TlsClient tls, IEnumerable<int> ports)
    {
        foreach (var port in ports)
        {
            Assert.Equal("+PONG\r\n", await TlsClient.PlainTextAsync(port, "PING\r\n", r => r.EndsWith("\r\n", StringComparison.Ordinal)));
            Assert.True(await TlsPingAsync(tls, port), $"port {port} does not take TLS");
        }
    }

    /// <summary>A plain-text client is sent to the nodes' own ports (CLUSTER SLOTS), not to the inner ones behind their multiplexers.</summary>
    private static async Task AssertClusterNamesNodePortsAsync(EndPoint endpoint, IEnumerable<int> ports)
    {
        var options = Plain(endpoint);
        options.AllowAdmin = true; // CLUSTER SLOTS
        await using var client = await ConnectionMultiplexer.ConnectAsync(options);
        var slots = (RedisResult[])(await client.GetServer(endpoint).ExecuteAsync("CLUSTER", "SLOTS"))!;
        var announced = slots.SelectMany(range => ((RedisResult[])range!).Skip(2)).Select(node => (int)((RedisResult[])node!)[1]).ToHashSet();
        Assert.Subset(ports.ToHashSet(), announced);
    }

    private static ConfigurationOptions Plain(EndPoint endpoint) =>
        new() { EndPoints = { endpoint }, ConnectTimeout = 2000, AsyncTimeout = 2000, SyncTimeout = 2000, AbortOnConnectFail = true };

    /// <summary>Whether the port answers a TLS client (a plain-text port never answers a handshake: it waits for a line).</summary>
    private static async Task<bool> TlsPingAsync(TlsClient tls, int port)
    {
        try
        {
            return await tls.RequestAsync(port, "PING\r\n", r => r.EndsWith("\r\n", StringComparison.Ordinal)).WaitAsync(TimeSpan.FromSeconds(3)) == "+PONG\r\n";
        }
        catch (Exception e) when (e is System.Net.Sockets.SocketException or IOException or OperationCanceledException or TimeoutException
            or System.Security.Authentication.AuthenticationException)
        {
            return false;
        }
    }

    private static async Task<bool> AllAsync(IEnumerable<int> ports, Func<int, Task<bool>> check)
    {
        foreach (var port in ports)
            if (!await check(port))
                return false;
        return true;
    }

    /// <summary>One client writing continuously (SET prefix:n n, a few ms apart); every failed command is counted, the client reconnects by itself.</summary>
    private sealed class Writer : IAsyncDisposable
    {
        private readonly CancellationTokenSource _stop = new(TimeSpan.FromMinutes(3));
        private readonly List<string> _errors = [];
        private int _done;
        private Task _loop = Task.CompletedTask;

        public int Done => Volatile.Read(ref _done);

        public IReadOnlyList<string> Errors { get { lock (_errors) return _errors.ToList(); } }

        public static Writer Start(ConnectionMultiplexer client, string prefix)
        {
            var writer = new Writer();
            writer._loop = Task.Run(async () =>
            {
                var db = client.GetDatabase();
                while (!writer._stop.IsCancellationRequested)
                {
                    try
                    {
                        await db.StringSetAsync($"{prefix}:{writer.Done}", writer.Done);
                        Interlocked.Increment(ref writer._done);
                    }
                    catch (Exception e) when (e is RedisException or TimeoutException)
                    {
                        lock (writer._errors)
                            writer._errors.Add(e.Message);
                    }
                    await Task.Delay(5);
                }
            });
            return writer;
        }

        public async Task WaitForAsync(int count)
        {
            var clock = System.Diagnostics.Stopwatch.StartNew();
            while (Done < count)
            {
                Assert.True(clock.Elapsed < TimeSpan.FromSeconds(30), $"the writer did only {Done} of {count} writes ({Errors.Count} failed: {string.Join("; ", Errors.Take(3))})");
                await Task.Delay(20);
            }
        }

        public async Task StopAsync()
        {
            await _stop.CancelAsync();
            await _loop;
        }

        public async ValueTask DisposeAsync()
        {
            await StopAsync();
            _stop.Dispose();
        }
    }

    // TLS and an auth token together, as ElastiCache pairs them: the writer logs in with the token.
    private const string Token = "tls-and-auth-token-0123456789";

    [Fact]
    public async Task A_failover_of_a_tls_and_auth_token_group_under_a_writer_loses_no_acknowledged_write()
    {
        var group = await CreateAsync("tls-fail", new { id = "tls-fail", replicasPerShard = 2, transitEncryption = true, authToken = Token });
        var tls = await TlsClient.FetchAsync(Client);
        var primary = group["shards"]![0]!["nodes"]!.AsArray().Single(n => (string?)n!["role"] == "primary")!;
        var endpoint = RedisCreateTests.Endpoint(group["primaryEndpoint"]!);
        await using var writer = await AcknowledgedWriter.StartAsync(() => Task.FromResult(endpoint), configure: o => WithToken(tls, o));
        await writer.WaitForAsync(50);

        using (var docker = Docker(Engines[(string)primary["availabilityZone"]!]))
            await docker.Containers.KillContainerAsync($"{Instance}-{primary["id"]}", new ContainerKillParameters { Signal = "SIGKILL" });
        await WaitForNodesAsync("tls-fail", n => (string?)n["id"] != (string?)primary["id"], count: 3, timeout: TimeSpan.FromSeconds(60));
        await writer.WaitForAsync(writer.Acknowledged.Count + 50);
        var acknowledged = await writer.StopAsync();
        var options = tls.Options(endpoint);
        await AssertTokenRequiredAsync(options);
        options.Password = Token;
        await using var client = await ConnectionMultiplexer.ConnectAsync(options);
        await AcknowledgedWriter.AssertKeptAsync(client, acknowledged);
    }

    [Fact]
    public async Task A_reshard_of_a_tls_and_auth_token_cluster_out_and_in_under_a_writer_loses_no_acknowledged_write()
    {
        var group = await CreateAsync("tls-shard", new { id = "tls-shard", clusterMode = "enabled", numShards = 2, replicasPerShard = 1, transitEncryption = true, authToken = Token });
        var tls = await TlsClient.FetchAsync(Client);
        var configuration = RedisCreateTests.Endpoint(group["configurationEndpoint"]!);
        await using var writer = await AcknowledgedWriter.StartAsync(() => Task.FromResult(configuration), cluster: true, configure: o => WithToken(tls, o));
        await writer.WaitForAsync(50);

        await AssertAcceptedAsync(await PatchAsync("/v1/replication-groups/tls-shard", new { numShards = 3 }));
        await WaitForStatusAsync("/v1/replication-groups/tls-shard", "available", TimeSpan.FromMinutes(2));
        await writer.WaitForAsync(writer.Acknowledged.Count + 50);
        await AssertAcceptedAsync(await PatchAsync("/v1/replication-groups/tls-shard", new { numShards = 2 }));
        var after = await WaitForStatusAsync("/v1/replication-groups/tls-shard", "available", TimeSpan.FromMinutes(2));
        Assert.Equal(2, (int)after["numShards"]!);
        await writer.WaitForAsync(writer.Acknowledged.Count + 50);
        var acknowledged = await writer.StopAsync();
        var options = tls.Options(RedisCreateTests.Endpoint(after["configurationEndpoint"]!));
        await AssertTokenRequiredAsync(options);
        options.Password = Token;
        await using var client = await ConnectionMultiplexer.ConnectAsync(options);
        await AcknowledgedWriter.AssertKeptAsync(client, acknowledged);
    }

    private static void WithToken(TlsClient tls, ConfigurationOptions options)
    {
        tls.Configure(options);
        options.Password = Token;
    }

    /// <summary>TLS alone does not let a client in: without the token every data command is refused.</summary>
    private static async Task AssertTokenRequiredAsync(ConfigurationOptions options)
    {
        var refused = await Assert.ThrowsAnyAsync<RedisException>(async () =>
        {
            await using var anonymous = await ConnectionMultiplexer.ConnectAsync(options);
            await anonymous.GetDatabase().StringGetAsync("any");
        });
        Assert.True(refused.Message.Contains("NOAUTH", StringComparison.Ordinal) || refused.Message.Contains("AuthenticationFailure", StringComparison.Ordinal), refused.Message);
    }

    [Fact]
    public async Task A_memcached_cluster_with_transit_encryption_speaks_tls_only()
    {
        await AssertAcceptedAsync(await PostAsync("/v1/cache-clusters", new { id = "tls-mc", engine = "memcached", numNodes = 2, transitEncryption = true }));
        var cluster = await WaitForStatusAsync("/v1/cache-clusters/tls-mc", "available");
        Assert.True((bool)cluster["transitEncryption"]!);
        var tls = await TlsClient.FetchAsync(Client);
        foreach (var node in cluster["nodes"]!.AsArray())
        {
            var port = (int)node!["endpoint"]!["port"]!;
            Assert.Equal("STORED\r\n", await tls.RequestAsync(port, "set tls 0 0 3\r\nyes\r\n", r => r.EndsWith("\r\n", StringComparison.Ordinal)));
            Assert.Equal("VALUE tls 0 3\r\nyes\r\nEND\r\n", await tls.RequestAsync(port, "get tls\r\n", r => r.EndsWith("END\r\n", StringComparison.Ordinal)));
            Assert.Null(await TlsClient.PlainTextAsync(port, "version\r\n", r => r.EndsWith("\r\n", StringComparison.Ordinal)));
        }
        // The configuration endpoint (auto discovery) speaks TLS too, and passes commands to the nodes over TLS.
        var discovery = (int)cluster["configurationEndpoint"]!["port"]!;
        var config = await tls.RequestAsync(discovery, "config get cluster\r\n", r => r.EndsWith("END\r\n", StringComparison.Ordinal));
        foreach (var node in cluster["nodes"]!.AsArray())
            Assert.Contains($"|{(int)node!["endpoint"]!["port"]!}", config);
        Assert.Equal("VALUE tls 0 3\r\nyes\r\nEND\r\n", await tls.RequestAsync(discovery, "get tls\r\n", r => r.EndsWith("END\r\n", StringComparison.Ordinal)));
        Assert.Null(await TlsClient.PlainTextAsync(discovery, "config get cluster\r\n", r => r.EndsWith("END\r\n", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task Bad_transit_encryption_input_is_refused_and_nothing_is_stored()
    {
        await AssertProblemAsync(await PostAsync("/v1/replication-groups", new { id = "bad-tls", transitEncryptionMode = "required" }),
            HttpStatusCode.BadRequest, "InvalidParameterCombination", "transitEncryptionMode");
        await AssertProblemAsync(await PostAsync("/v1/replication-groups", new { id = "bad-tls", transitEncryption = true, transitEncryptionMode = "sometimes" }),
            HttpStatusCode.BadRequest, "InvalidParameterValue", "transitEncryptionMode");
        Assert.Equal(HttpStatusCode.NotFound, (await Client.GetAsync("/v1/replication-groups/bad-tls")).StatusCode);
        Assert.Equal(0, await CountAsync(db => db.ReplicationGroups));
    }

    [Fact]
    public async Task Once_required_a_node_gives_its_inner_ports_back_when_its_multiplexer_has_ended()
    {
        var group = await CreateAsync("tls-free", new { id = "tls-free", replicasPerShard = 1, transitEncryption = true, transitEncryptionMode = "preferred" });
        var inner = group["shards"]!.AsArray().SelectMany(s => s!["nodes"]!.AsArray())
            .SelectMany(n => new[] { $"{n!["id"]}-plain", $"{n["id"]}-tls" }).ToList();
        Assert.Equal(inner.Count, await CountAsync(db => db.PortLeases.Where(l => inner.Contains(l.NodeId))));
        var tls = await TlsClient.FetchAsync(Client);
        var port = Ports(group).First();

        // A TLS client on a node's port goes through its multiplexer, which carries it on after the step to required.
        var client = await tls.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port));
        await client.GetDatabase().StringSetAsync("before", "required");
        await AssertAcceptedAsync(await PatchAsync("/v1/replication-groups/tls-free", new { transitEncryptionMode = "required" }));
        var required = await WaitForNodesAsync("tls-free", _ => true, timeout: TimeSpan.FromSeconds(60));
        Assert.Equal("required", (string?)required["transitEncryptionMode"]);
        Assert.Equal("required", (string?)await client.GetDatabase().StringGetAsync("before"));
        // Available and quiet, the group keeps the inner ports of the multiplexer that still carries the client,
        // through two full passes that looked at it.
        var passes = await FullPassesAsync();
        await WaitUntilAsync(async () => await FullPassesAsync() >= passes + 2, TimeSpan.FromSeconds(60), () => "no two full passes in a minute");
        Assert.True(await CountAsync(db => db.PortLeases.Where(l => inner.Contains(l.NodeId))) > 0, "the inner ports went while the multiplexer carried a client");

        // Its last connection ended, the multiplexer ends; the planner sees it gone in the listing, and the inner ports go back.
        await client.DisposeAsync();
        await WaitUntilAsync(async () => await CountAsync(db => db.PortLeases.Where(l => inner.Contains(l.NodeId))) == 0,
            TimeSpan.FromSeconds(60), () => $"tls-free still leases inner ports\n{EventsText()}");
        foreach (var nodePort in Ports(group))
            Assert.Null(await TlsClient.PlainTextAsync(nodePort, "PING\r\n", r => r.EndsWith("\r\n", StringComparison.Ordinal)));
    }

    private async Task<JsonObject> CreateAsync(string id, object body)
    {
        await AssertAcceptedAsync(await PostAsync("/v1/replication-groups", body));
        return await WaitForStatusAsync($"/v1/replication-groups/{id}", "available", TimeSpan.FromMinutes(2));
    }

    /// <summary>Until the group is available with every node available and matching.</summary>
    private async Task<JsonObject> WaitForNodesAsync(string id, Func<JsonNode, bool> matches, int? count = null, TimeSpan? timeout = null)
    {
        JsonObject? last = null;
        await WaitUntilAsync(async () =>
        {
            last = await BodyAsync(await Client.GetAsync($"/v1/replication-groups/{id}"));
            var nodes = last["shards"]!.AsArray().SelectMany(s => s!["nodes"]!.AsArray()).Select(n => n!).ToList();
            return (string?)last["status"] == "available" && (count is null || nodes.Count == count)
                && nodes.All(n => (string?)n["status"] == "available" && matches(n));
        }, timeout ?? TimeSpan.FromSeconds(30), () => $"{id}: {last?.ToJsonString()}\n{EventsText()}");
        return last!;
    }

    /// <summary>How many full reconcile passes have ended, as /metrics counts them.</summary>
    private async Task<double> FullPassesAsync() =>
        (await Client.GetStringAsync("/metrics")).Split('\n')
            .Where(l => l.StartsWith("controlplane_reconcile_full_pass_duration_seconds_count", StringComparison.Ordinal))
            .Sum(l => double.Parse(l[(l.LastIndexOf(' ') + 1)..], System.Globalization.CultureInfo.InvariantCulture));

    private static IEnumerable<int> Ports(JsonObject group) =>
        group["shards"]!.AsArray().SelectMany(s => s!["nodes"]!.AsArray()).Select(n => (int)n!["endpoint"]!["port"]!);
}
