using System.Net.Sockets;
using System.Text;

namespace ControlPlane.Api.Runtime;

/// <summary>
/// HAProxy's runtime API on a TCP stats socket, in its non-interactive mode: one connection per
/// call, the commands on one line separated by ';', the answers read until HAProxy closes.
/// </summary>
public static class ProxyAdmin
{
    /// <summary>One call's limit: the socket answers on loopback in well under a millisecond.</summary>
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(2);

    public static async Task<string> SendAsync(string host, int port, IReadOnlyList<string> commands, CancellationToken ct)
    {
        if (commands.Count == 0 || commands.Any(c => c.Contains(';') || c.Contains('\n')))
            throw new ArgumentException("Commands must be one or more, without ';' or line breaks.", nameof(commands));
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(Timeout);
        using var client = new TcpClient { NoDelay = true };
        await client.ConnectAsync(host, port, timeout.Token);
        var stream = client.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes(string.Join("; ", commands) + "\n"), timeout.Token);
        using var answer = new MemoryStream();
        await stream.CopyToAsync(answer, timeout.Token);
        return Encoding.ASCII.GetString(answer.ToArray());
    }

    /// <summary>Like <see cref="SendAsync"/>, retried while the socket refuses (a proxy just started) until <paramref name="within"/>.</summary>
    public static async Task<string> SendWhenUpAsync(string host, int port, IReadOnlyList<string> commands, TimeSpan within, TimeProvider time, CancellationToken ct)
    {
        var started = time.GetTimestamp();
        while (true)
        {
            try
            {
                return await SendAsync(host, port, commands, ct);
            }
            catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionRefused && time.GetElapsedTime(started) < within)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(20), time, ct);
            }
        }
    }

    /// <summary>
    /// Puts exactly <paramref name="nodes"/> in the proxy's server slots, changing only what differs
    /// (<see cref="EndpointProxy.Changes"/>), and reads the state back to be sure it took.
    /// <paramref name="startTimeout"/>: how long a proxy just started may refuse connections.
    /// </summary>
    public static async Task<ProxyChanges> ServeAsync(string host, int port, IReadOnlyList<ProxyNode> nodes, TimeSpan startTimeout, TimeProvider time, CancellationToken ct)
    {
        var changes = EndpointProxy.Changes(EndpointProxy.ParseServersState(await SendWhenUpAsync(host, port, [ShowServersState], startTimeout, time, ct)), nodes);
        if (changes.Commands.Count == 0)
            return changes;
        await SendAsync(host, port, changes.Commands, ct);
        // The runtime API answers each command with free text: what it did is read back instead.
        var left = EndpointProxy.Changes(EndpointProxy.ParseServersState(await SendAsync(host, port, [ShowServersState], ct)), nodes).Commands;
        return left.Count == 0
            ? changes
            : throw new InvalidOperationException($"The endpoint proxy at {host}:{port} did not take the node set; still to do: {string.Join("; ", left)}");
    }

    private const string ShowServersState = "show servers state";
}
