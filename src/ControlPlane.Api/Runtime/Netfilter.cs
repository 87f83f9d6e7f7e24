using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text.RegularExpressions;

namespace ControlPlane.Api.Runtime;

/// <summary>
/// The kernel's NAT rules and connection tracking on this host, through Debian's <c>nft</c>
/// (package nftables) and <c>conntrack</c> (package conntrack) tools. Needs root (CAP_NET_ADMIN).
/// </summary>
public sealed partial class Netfilter
{
    private static readonly TimeSpan CommandTimeout = TimeSpan.FromSeconds(10);

    /// <summary>True when both tools run and this process may change the rules (checked with a table it adds and removes).</summary>
    public async Task<bool> WorksAsync(CancellationToken ct)
    {
        try
        {
            const string probe = "controlplane-probe";
            await RunAsync("nft", [], $"add table ip {probe}\ndelete table ip {probe}\n", ct);
            await RunAsync("conntrack", ["-C"], null, ct);
            return true;
        }
        catch (Exception e) when (e is InvalidOperationException or System.ComponentModel.Win32Exception)
        {
            return false;
        }
    }

    /// <summary>Runs one nftables script as one transaction (all of it or nothing).</summary>
    public Task ApplyAsync(string script, CancellationToken ct) => RunAsync("nft", ["-f", "-"], script, ct);

    /// <summary>The table as <c>nft -j</c> lists it, or null when there is no such table.</summary>
    public async Task<string?> ListAsync(string table, CancellationToken ct)
    {
        var (code, output, error) = await ExecAsync("nft", ["-j", "list", "table", "ip", table], null, ct);
        if (code == 0)
            return output;
        if (error.Contains("No such file or directory", StringComparison.Ordinal))
            return null;
        throw new InvalidOperationException($"nft -j list table ip {table} failed ({code}): {error.Trim()}");
    }

    /// <summary>The nodes that tracked TCP connections to an endpoint were forwarded to (their reply source).</summary>
    public async Task<IReadOnlyList<IPEndPoint>> FlowTargetsAsync(IPEndPoint endpoint, CancellationToken ct)
    {
        var output = await RunAsync("conntrack", ["-L", "-p", "tcp", "--orig-dst", endpoint.Address.ToString(), "--dport", Text(endpoint.Port)], null, ct);
        var targets = new HashSet<IPEndPoint>();
        foreach (var line in output.Split('\n'))
        {
            // "tcp 6 431999 ESTABLISHED src=A dst=B sport=S dport=D src=X dst=Y sport=P dport=Q [ASSURED] ...": the second src/sport is the node.
            var sources = Source().Matches(line);
            var ports = SourcePort().Matches(line);
            if (sources.Count >= 2 && ports.Count >= 2)
                targets.Add(new IPEndPoint(IPAddress.Parse(sources[1].Groups[1].Value), int.Parse(ports[1].Groups[1].Value, CultureInfo.InvariantCulture)));
        }
        return targets.ToList();
    }

    /// <summary>
    /// Forgets the tracked connections to an endpoint (those forwarded to <paramref name="target"/>, or all).
    /// The next packet of such a connection is tracked anew and meets the current rules: sent to a node
    /// that has no such connection (or to a port nobody listens on), it is answered with a reset.
    /// </summary>
    public async Task ForgetFlowsAsync(IPEndPoint endpoint, IPEndPoint? target, CancellationToken ct)
    {
        List<string> args = ["-D", "-p", "tcp", "--orig-dst", endpoint.Address.ToString(), "--dport", Text(endpoint.Port)];
        if (target is not null)
            args.AddRange(["--reply-src", target.Address.ToString(), "--reply-port-src", Text(target.Port)]);
        var (code, _, error) = await ExecAsync("conntrack", args, null, ct);
        // conntrack exits with 1 when nothing matched.
        if (code != 0 && !error.Contains(" 0 flow entries", StringComparison.Ordinal))
            throw new InvalidOperationException($"conntrack {string.Join(' ', args)} failed ({code}): {error.Trim()}");
    }

    private static async Task<string> RunAsync(string tool, IReadOnlyList<string> args, string? input, CancellationToken ct)
    {
        var (code, output, error) = await ExecAsync(tool, args, input, ct);
        if (code != 0)
            throw new InvalidOperationException($"{tool} {string.Join(' ', args)} failed ({code}): {error.Trim()}" + (input is null ? "" : $"\n{input}"));
        return output;
    }

    private static async Task<(int Code, string Output, string Error)> ExecAsync(string tool, IReadOnlyList<string> args, string? input, CancellationToken ct)
    {
        var start = new ProcessStartInfo(tool) { RedirectStandardInput = input is not null, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in args)
            start.ArgumentList.Add(arg);
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"{tool} did not start.");
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(CommandTimeout);
        try
        {
            if (input is not null)
            {
                await process.StandardInput.WriteAsync(input.AsMemory(), timeout.Token);
                process.StandardInput.Close();
            }
            var output = process.StandardOutput.ReadToEndAsync(timeout.Token);
            var error = process.StandardError.ReadToEndAsync(timeout.Token);
            await process.WaitForExitAsync(timeout.Token);
            return (process.ExitCode, await output, await error);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            process.Kill(entireProcessTree: true);
            throw new InvalidOperationException($"{tool} {string.Join(' ', args)} did not finish within {CommandTimeout}.");
        }
    }

    private static string Text(int value) => value.ToString(CultureInfo.InvariantCulture);

    [GeneratedRegex(@"\bsrc=(\S+)")]
    private static partial Regex Source();

    [GeneratedRegex(@"\bsport=(\d+)")]
    private static partial Regex SourcePort();
}
