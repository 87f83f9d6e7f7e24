namespace ControlPlane.Runtime.Tests.Infrastructure;

/// <summary>One command on a fresh connection, as a new client of an endpoint sends it.</summary>
internal static class Resp
{
    public static async Task<object?> CallAsync(int port, params string[] args)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        await using var connection = await RespConnection.OpenAsync(port, timeout.Token);
        return await connection.CallAsync(timeout.Token, args);
    }

    /// <summary>Which Redis process answers on the port, whatever lies between.</summary>
    public static async Task<string> RunIdAsync(int port) => RunIdOf((string?)await CallAsync(port, "INFO", "server"), port);

    /// <summary>The run_id line of an INFO server answer.</summary>
    public static string RunIdOf(string? info, int port) =>
        (info ?? "").Split("\r\n").FirstOrDefault(l => l.StartsWith("run_id:", StringComparison.Ordinal))?["run_id:".Length..]
            ?? throw new InvalidDataException($"No run_id in INFO server on {port}.");
}
