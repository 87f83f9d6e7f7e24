using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace ControlPlane.Api.Runtime;

/// <summary>
/// The nftables scripts of the kernel endpoints, and the reading of what the kernel holds. One table
/// per control-plane instance: a verdict map from endpoint address and port to the group's chain,
/// looked up from the nat hooks of locally generated (output) and arriving (prerouting) packets; the
/// group's chain rewrites the destination to its primary, or to one of its replicas chosen per
/// connection (<c>numgen inc</c>). Only a connection's first packet meets these rules: conntrack
/// keeps the mapping for the rest of it. Every script is one <c>nft -f</c> transaction: the kernel
/// applies all of it or nothing, and packets see the old rules or the new ones, never a mix.
/// </summary>
public static partial class NftRuleset
{
    private const string Map = "endpoints";

    public static string TableName(string instance) => $"controlplane-{Check(instance)}";

    public static string ChainName(string groupId) => $"g-{Check(groupId)}";

    /// <summary>Replaces the whole table with these groups' forwarding (a start-up, or a table found missing).</summary>
    public static string Rebuild(string table, IEnumerable<GroupForwarding> groups)
    {
        var script = new StringBuilder();
        // Adding an empty table first makes the delete succeed when there is none.
        script.Append(CultureInfo.InvariantCulture, $"add table ip {table}\ndelete table ip {table}\n");
        script.Append(CultureInfo.InvariantCulture, $"add table ip {table}\n");
        script.Append(CultureInfo.InvariantCulture, $"add map ip {table} {Map} {{ type ipv4_addr . inet_service : verdict; }}\n");
        foreach (var hook in new[] { "output", "prerouting" })
        {
            script.Append(CultureInfo.InvariantCulture, $"add chain ip {table} {hook} {{ type nat hook {hook} priority -100; policy accept; }}\n");
            script.Append(CultureInfo.InvariantCulture, $"add rule ip {table} {hook} ip daddr . tcp dport vmap @{Map}\n");
        }
        foreach (var group in groups)
            script.Append(Apply(table, group, []));
        return script.ToString();
    }

    /// <summary>Sets one group's forwarding; <paramref name="stale"/> are its map keys that no longer belong to it.</summary>
    public static string Apply(string table, GroupForwarding group, IEnumerable<IPEndPoint> stale)
    {
        var chain = ChainName(group.GroupId);
        var script = new StringBuilder();
        script.Append(CultureInfo.InvariantCulture, $"add chain ip {table} {chain}\nflush chain ip {table} {chain}\n");
        foreach (var port in group.Ports.OrderBy(p => p.Port))
        {
            var to = port.Targets.Select(Address).Order(StringComparer.Ordinal).ToList();
            if (to.Count == 1)
                script.Append(CultureInfo.InvariantCulture, $"add rule ip {table} {chain} tcp dport {port.Port} dnat to {to[0].Replace(" . ", ":", StringComparison.Ordinal)}\n");
            else if (to.Count > 1)
            {
                var map = string.Join(", ", to.Select((t, i) => string.Create(CultureInfo.InvariantCulture, $"{i} : {t}")));
                script.Append(CultureInfo.InvariantCulture, $"add rule ip {table} {chain} tcp dport {port.Port} dnat to numgen inc mod {to.Count} map {{ {map} }}\n");
            }
            // No target: no rule. Nothing listens on the endpoint port, so a connection is refused at once.
        }
        foreach (var key in stale)
            script.Append(CultureInfo.InvariantCulture, $"delete element ip {table} {Map} {{ {Address(key)} }}\n");
        // `add element` fails when the key maps to another chain: a port is never taken from another group.
        var elements = string.Join(", ", group.Ports.OrderBy(p => p.Port).Select(p => $"{Address(new IPEndPoint(group.Host, p.Port))} : jump {chain}"));
        script.Append(CultureInfo.InvariantCulture, $"add element ip {table} {Map} {{ {elements} }}\n");
        return script.ToString();
    }

    /// <summary>Removes one group: its map keys first (a chain that a map element jumps to cannot be deleted), then its chain.</summary>
    public static string Remove(string table, string groupId, IEnumerable<IPEndPoint> keys)
    {
        var chain = ChainName(groupId);
        var script = new StringBuilder();
        foreach (var key in keys)
            script.Append(CultureInfo.InvariantCulture, $"delete element ip {table} {Map} {{ {Address(key)} }}\n");
        script.Append(CultureInfo.InvariantCulture, $"add chain ip {table} {chain}\ndelete chain ip {table} {chain}\n");
        return script.ToString();
    }

    /// <summary>
    /// What the kernel holds, from <c>nft -j list table</c>: each group chain's map keys and, for the
    /// ports of those keys, the targets of the chain's rule (none when it has no rule for the port).
    /// </summary>
    public static NftTable Parse(string json)
    {
        var keys = new Dictionary<string, List<IPEndPoint>>(StringComparer.Ordinal);
        var targets = new Dictionary<(string Chain, int Port), List<IPEndPoint>>();
        var chains = new List<string>();
        using var document = JsonDocument.Parse(json);
        foreach (var item in document.RootElement.GetProperty("nftables").EnumerateArray())
        {
            if (item.TryGetProperty("chain", out var c) && GroupOf(c.GetProperty("name").GetString()) is { } name)
                chains.Add(name);
            if (item.TryGetProperty("map", out var m) && m.GetProperty("name").GetString() == Map && m.TryGetProperty("elem", out var elements))
            {
                foreach (var element in elements.EnumerateArray())
                {
                    var target = GroupOf(element[1].GetProperty("jump").GetProperty("target").GetString()) ?? "";
                    (keys.TryGetValue(target, out var list) ? list : keys[target] = []).Add(Endpoint(element[0].GetProperty("concat")));
                }
            }
            if (item.TryGetProperty("rule", out var r) && GroupOf(r.GetProperty("chain").GetString()) is { } group)
            {
                int? port = null;
                var to = new List<IPEndPoint>();
                foreach (var expression in r.GetProperty("expr").EnumerateArray())
                {
                    if (expression.TryGetProperty("match", out var match) && match.GetProperty("right").ValueKind == JsonValueKind.Number)
                        port = match.GetProperty("right").GetInt32();
                    if (expression.TryGetProperty("dnat", out var dnat))
                    {
                        var address = dnat.GetProperty("addr");
                        if (address.ValueKind == JsonValueKind.String)
                            to.Add(new IPEndPoint(IPAddress.Parse(address.GetString()!), dnat.GetProperty("port").GetInt32()));
                        else
                            foreach (var entry in address.GetProperty("map").GetProperty("data").GetProperty("set").EnumerateArray())
                                to.Add(Endpoint(entry[1].GetProperty("concat")));
                    }
                }
                if (port is { } p)
                    targets[(group, p)] = to;
            }
        }
        var groups = chains.ToDictionary(g => g, g =>
        {
            var own = keys.GetValueOrDefault(g) ?? [];
            return new GroupForwarding(g, own.Select(k => k.Address).FirstOrDefault() ?? IPAddress.None,
                own.Select(k => new PortForward(k.Port, targets.GetValueOrDefault((g, k.Port)) ?? [])).ToList());
        }, StringComparer.Ordinal);
        return new NftTable(groups, keys.ToDictionary(k => k.Key, k => (IReadOnlyList<IPEndPoint>)k.Value, StringComparer.Ordinal));
    }

    private static string? GroupOf(string? chain) => chain is not null && chain.StartsWith("g-", StringComparison.Ordinal) ? chain[2..] : null;

    private static IPEndPoint Endpoint(JsonElement concat) =>
        new(IPAddress.Parse(concat[0].GetString()!), concat[1].GetInt32());

    private static string Address(IPEndPoint endpoint) => $"{Ipv4(endpoint.Address)} . {endpoint.Port.ToString(CultureInfo.InvariantCulture)}";

    private static string Ipv4(IPAddress address) =>
        address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork
            ? address.ToString()
            : throw new ArgumentException($"{address} is not an IPv4 address: the kernel endpoints forward IPv4 only.");

    // Instance names and group ids are this already; checked because they become words of a script.
    private static string Check(string name) =>
        Name().IsMatch(name) ? name : throw new ArgumentException($"'{name}' cannot name an nftables object.", nameof(name));

    // Well under the kernel's 256 (NFT_CHAIN_MAXNAMELEN), with room for a tenant-qualified group id (TenantNames).
    [GeneratedRegex("^[a-z][a-z0-9-]{0,99}\\z")]
    private static partial Regex Name();
}
