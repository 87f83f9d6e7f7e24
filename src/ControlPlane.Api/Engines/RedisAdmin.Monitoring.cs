using StackExchange.Redis;

namespace ControlPlane.Api.Engines;

public sealed partial class RedisAdmin
{
    /// <summary>The INFO sections the metrics read, in one round trip; null when the node does not answer.</summary>
    public async Task<IReadOnlyDictionary<string, string>?> InfoAsync(string host, int port, bool cluster, CancellationToken ct)
    {
        try
        {
            var server = await ServerAsync(host, port, ct);
            var info = server.ExecuteAsync("INFO", "server", "clients", "memory", "stats", "replication", "cpu", "keyspace");
            var clusterInfo = cluster ? server.ExecuteAsync("CLUSTER", "INFO") : null;
            await Task.WhenAll(new Task?[] { info, clusterInfo }.OfType<Task>()).WaitAsync(CommandTimeout, _time, ct);
            var fields = new Dictionary<string, string>(ParseFields((string?)await info ?? ""));
            if (clusterInfo is not null)
                foreach (var (key, value) in ParseFields((string?)await clusterInfo ?? ""))
                    fields[key] = value;
            return fields;
        }
        catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
        {
            LogProbeFailed(logger, host, port, e.Message);
            return null;
        }
    }

    /// <summary>SLOWLOG GET, newest first. Throws (RedisException) when the node does not answer.</summary>
    public async Task<IReadOnlyList<SlowLogEntry>> SlowLogAsync(string host, int port, int count, CancellationToken ct)
    {
        var reply = await ExecuteAsync(host, port, ct, "SLOWLOG", "GET", count);
        var entries = new List<SlowLogEntry>();
        foreach (var entry in (RedisResult[]?)reply ?? [])
        {
            var parts = (RedisResult[]?)entry ?? [];
            if (parts.Length < 4)
                continue;
            entries.Add(new SlowLogEntry(
                (long)parts[0],
                DateTimeOffset.FromUnixTimeSeconds((long)parts[1]),
                (long)parts[2],
                ((RedisResult[]?)parts[3] ?? []).Select(a => (string?)a ?? "").ToList(),
                parts.Length > 4 ? (string?)parts[4] ?? "" : ""));
        }
        return entries;
    }
}
