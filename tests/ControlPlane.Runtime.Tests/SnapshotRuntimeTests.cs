using ControlPlane.Api.Runtime;
using ControlPlane.Runtime.Tests.Infrastructure;
using StackExchange.Redis;

namespace ControlPlane.Runtime.Tests;

/// <summary>The primitives of backup and restore: BGSAVE, reading dump.rdb out of a container, seeding a new one with it.</summary>
public sealed class SnapshotRuntimeTests : NodeTest
{
    private static readonly TimeSpan SaveTimeout = TimeSpan.FromSeconds(20);

    // Strings (one of every byte value), hashes, lists, sets and sorted sets, small and large
    // encodings, a fifth of them with a TTL long enough to outlive the test.
    private const string FillScript = """
        local binary = {}
        for b = 0, 255 do binary[#binary + 1] = string.char(b) end
        redis.call('SET', 'binary', table.concat(binary))
        for i = 1, 1000 do
          redis.call('SET', 'string:' .. i, 'value-' .. i)
          if i % 5 == 0 then redis.call('EXPIRE', 'string:' .. i, 3600) end
        end
        for i = 1, 500 do
          redis.call('HSET', 'hash:' .. i, 'name', 'node-' .. i, 'count', i, 'ratio', i / 7)
          redis.call('RPUSH', 'list:' .. i, 'a', 'b', i, 'c', i * 2)
          redis.call('SADD', 'set:' .. i, 'x', 'y', i)
          redis.call('ZADD', 'zset:' .. i, 1, 'one', i, 'many', -i / 3, 'negative')
          if i % 5 == 0 then
            redis.call('EXPIRE', 'hash:' .. i, 7200)
            redis.call('PEXPIRE', 'zset:' .. i, 5400000)
          end
        end
        for i = 1, 2000 do
          redis.call('RPUSH', 'big:list', 'element-' .. i)
          redis.call('HSET', 'big:hash', 'field-' .. i, string.rep('v', i % 100))
          redis.call('SADD', 'big:set', i)
          redis.call('ZADD', 'big:zset', i * 1.25, 'member-' .. i)
        end
        return redis.call('DBSIZE')
        """;

    [Fact]
    public async Task A_node_seeded_with_a_saved_dump_holds_the_same_data_set()
    {
        int sourcePort = FreePorts.Next(), restoredPort = FreePorts.Next();
        var source = Debuggable(RedisSpec("source", sourcePort));
        await Zone('a').RunAsync(source, Ct);
        await UntilAnsweringAsync(sourcePort);
        var keys = (long)await DataCommandAsync(sourcePort, "EVAL", FillScript, 0);
        Assert.True(keys > 3000, $"{keys} keys");
        var digest = (string?)await AdminCommandAsync(sourcePort, "DEBUG", "DIGEST");

        await Redis.SaveAsync(Loopback, sourcePort, SaveTimeout, Ct);
        var dump = Path.GetTempFileName();
        try
        {
            await using (var content = await Zone('a').ReadFileAsync(source.Name, "/data/dump.rdb", Ct))
            await using (var file = File.Create(dump))
                await content.CopyToAsync(file, Ct);
            Assert.Equal("REDIS"u8.ToArray(), (await File.ReadAllBytesAsync(dump, Ct))[..5]);

            // Another zone's engine: the file travels through the control plane, not a shared disk.
            var restored = Debuggable(RedisSpec("restored", restoredPort)) with
            {
                Seeds = [new SeedFile("/data/dump.rdb", _ => Task.FromResult<Stream>(File.OpenRead(dump)))],
            };
            await Zone('b').RunAsync(restored, Ct);
            await UntilAnsweringAsync(restoredPort);

            Assert.Equal(keys, (long)await DataCommandAsync(restoredPort, "DBSIZE"));
            Assert.Equal(digest, (string?)await AdminCommandAsync(restoredPort, "DEBUG", "DIGEST"));
            Assert.InRange((long)await DataCommandAsync(restoredPort, "TTL", "string:5"), 3000, 3600);
        }
        finally
        {
            File.Delete(dump);
        }
    }

    [Fact]
    public async Task A_seed_from_an_unseekable_stream_is_written_byte_for_byte_and_read_back_from_an_exited_container()
    {
        var content = new byte[300_000];
        new Random(42).NextBytes(content);
        var spec = RedisSpec("seeded", FreePorts.Next()) with
        {
            Seeds = [new SeedFile("/data/blob.bin", _ => Task.FromResult<Stream>(new UnseekableStream(content)))],
        };
        await Zone('a').RunAsync(spec, Ct);
        await Zone('a').StopAsync(spec.Name, Ct);

        using var copy = new MemoryStream();
        await using (var read = await Zone('a').ReadFileAsync(spec.Name, "/data/blob.bin", Ct))
            await read.CopyToAsync(copy, Ct);

        Assert.Equal(content, copy.ToArray());
    }

    [Fact]
    public async Task Reading_a_missing_file_throws_FileNotFoundException()
    {
        var spec = RedisSpec("n1", FreePorts.Next());
        await Zone('a').RunAsync(spec, Ct);

        var e = await Assert.ThrowsAsync<FileNotFoundException>(() => Zone('a').ReadFileAsync(spec.Name, "/data/dump.rdb", Ct));
        Assert.Equal("/data/dump.rdb", e.FileName);
        // A missing container is another matter, not a missing file.
        await Assert.ThrowsAsync<RuntimeNotFoundException>(() => Zone('a').ReadFileAsync($"{Group}-none", "/data/dump.rdb", Ct));
    }

    [Fact]
    public async Task Save_while_a_save_runs_waits_for_one_that_started_after_the_call()
    {
        var port = FreePorts.Next();
        await Zone('a').RunAsync(RedisSpec("n1", port), Ct);
        await UntilAnsweringAsync(port);
        await DataCommandAsync(port, "EVAL", "for i = 1, 10 do redis.call('SET', 'k' .. i, i) end", 0);
        // 0.1 s a key: each save of the ten keys takes about a second.
        await Redis.ConfigSetAsync(Loopback, port, "rdb-key-save-delay", "100000", Ct);
        await AdminCommandAsync(port, "BGSAVE");
        var running = await PersistenceAsync(port);
        Assert.Equal("1", running["rdb_bgsave_in_progress"]);
        await DataCommandAsync(port, "SET", "written-during-the-first-save", "yes");

        await Task.WhenAll(
            Redis.SaveAsync(Loopback, port, SaveTimeout, Ct),
            Redis.SaveAsync(Loopback, port, SaveTimeout, Ct));

        var done = await PersistenceAsync(port);
        Assert.Equal("0", done["rdb_bgsave_in_progress"]);
        Assert.Equal("ok", done["rdb_last_bgsave_status"]);
        Assert.True(long.Parse(done["rdb_saves"]) > long.Parse(running["rdb_saves"]), $"saves: {running["rdb_saves"]} -> {done["rdb_saves"]}");
        Assert.Equal(0, long.Parse(done["rdb_changes_since_last_save"]));
    }

    [Fact]
    public async Task Save_that_does_not_finish_in_time_throws_TimeoutException()
    {
        var port = FreePorts.Next();
        await Zone('a').RunAsync(RedisSpec("n1", port), Ct);
        await UntilAnsweringAsync(port);
        await DataCommandAsync(port, "EVAL", "for i = 1, 10 do redis.call('SET', 'k' .. i, i) end", 0);
        await Redis.ConfigSetAsync(Loopback, port, "rdb-key-save-delay", "100000", Ct);

        await Assert.ThrowsAsync<TimeoutException>(() => Redis.SaveAsync(Loopback, port, TimeSpan.FromMilliseconds(300), Ct));
    }

    // DEBUG is off by default since Redis 7.0; "local" allows it from loopback.
    private static ContainerSpec Debuggable(ContainerSpec spec) =>
        spec with { Command = [.. spec.Command, "--enable-debug-command", "local"] };

    private static async Task<IReadOnlyDictionary<string, string>> PersistenceAsync(int port) =>
        ((string?)await AdminCommandAsync(port, "INFO", "persistence") ?? "")
            .Split('\n', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)
            .Where(line => !line.StartsWith('#') && line.Contains(':'))
            .Select(line => line.Split(':', 2))
            .ToDictionary(kv => kv[0], kv => kv[1]);

    private static async Task<RedisResult> AdminCommandAsync(int port, string command, params object[] args)
    {
        await using var connection = await ConnectionMultiplexer.ConnectAsync(new ConfigurationOptions
        {
            EndPoints = { { Loopback, port } },
            AllowAdmin = true,
            Protocol = RedisProtocol.Resp2,
        });
        return await connection.GetServer(Loopback, port).ExecuteAsync(command, args);
    }

    /// <summary>A seed whose length is unknown until read, like a download.</summary>
    private sealed class UnseekableStream(byte[] content) : MemoryStream(content, writable: false)
    {
        public override bool CanSeek => false;
    }
}
