namespace ControlPlane.Api.Engines;

public sealed partial class RedisAdmin
{
    /// <summary>Closes the node's links to its replicas (CLIENT KILL TYPE replica): they reconnect, with a partial resync.</summary>
    public Task KillReplicaLinksAsync(string host, int port, CancellationToken ct) =>
        ExecuteAsync(host, port, ct, "CLIENT", "KILL", "TYPE", "replica");

    /// <summary>Closes the client connections made to the node's <paramref name="localPort"/> (CLIENT KILL LADDR), e.g. plain text once TLS is required.</summary>
    public async Task KillClientsOnAsync(string host, int port, int localPort, CancellationToken ct)
    {
        var clients = (string?)await ExecuteAsync(host, port, ct, "CLIENT", "LIST") ?? "";
        foreach (var address in clients.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(line => line.Split(' ').Select(f => f.Split('=', 2)).Where(kv => kv.Length == 2).ToDictionary(kv => kv[0], kv => kv[1]).GetValueOrDefault("laddr"))
            .OfType<string>().Where(laddr => laddr.EndsWith($":{localPort}", StringComparison.Ordinal)).Distinct())
            await ExecuteAsync(host, port, ct, "CLIENT", "KILL", "LADDR", address);
    }
}
