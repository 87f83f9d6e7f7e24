using System.Globalization;

namespace ControlPlane.Api.Engines;

/// <summary>Parses the text of CLUSTER NODES (https://redis.io/docs/latest/commands/cluster-nodes/).</summary>
public static class ClusterNodesParser
{
    public static IReadOnlyList<ClusterNodeInfo> Parse(string text) =>
        text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(ParseLine)
            .ToList();

    // <id> <ip:port@cport[,hostname]> <flags> <master> <ping-sent> <pong-recv> <config-epoch> <link-state> <slot>...
    private static ClusterNodeInfo ParseLine(string line)
    {
        var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (fields.Length < 8)
            throw new FormatException($"Not a CLUSTER NODES line: \"{line}\".");

        var (host, port, busPort) = ParseAddress(fields[1]);
        var flags = fields[2] == "noflags" ? [] : fields[2].Split(',').ToHashSet(StringComparer.Ordinal);
        var slots = new List<(int, int)>();
        var migrations = new List<SlotMigration>();
        foreach (var token in fields.Skip(8))
        {
            if (token.StartsWith('['))
                migrations.Add(ParseMigration(token));
            else
                slots.Add(ParseRange(token));
        }

        return new ClusterNodeInfo(
            fields[0], host, port, busPort, flags,
            fields[3] == "-" ? null : fields[3],
            long.Parse(fields[6], CultureInfo.InvariantCulture),
            fields[7], slots, migrations);
    }

    // "127.0.0.1:7000@17000,hostname"; IPv6 hosts are printed without brackets, so the port
    // follows the last colon. A node whose address is not known yet shows ":0@0".
    private static (string Host, int Port, int BusPort) ParseAddress(string field)
    {
        var address = field.Split(',')[0];
        var at = address.IndexOf('@');
        var hostPort = at >= 0 ? address[..at] : address;
        var colon = hostPort.LastIndexOf(':');
        if (colon < 0)
            throw new FormatException($"Not a CLUSTER NODES address: \"{field}\".");
        var port = int.Parse(hostPort[(colon + 1)..], CultureInfo.InvariantCulture);
        var busPort = at >= 0 ? int.Parse(address[(at + 1)..], CultureInfo.InvariantCulture) : 0;
        return (hostPort[..colon], port, busPort);
    }

    private static (int Start, int End) ParseRange(string token)
    {
        var dash = token.IndexOf('-');
        return dash < 0
            ? (int.Parse(token, CultureInfo.InvariantCulture), int.Parse(token, CultureInfo.InvariantCulture))
            : (int.Parse(token[..dash], CultureInfo.InvariantCulture), int.Parse(token[(dash + 1)..], CultureInfo.InvariantCulture));
    }

    // "[5461->-<dst-id>]" migrating to dst, "[5461-<-<src-id>]" importing from src.
    private static SlotMigration ParseMigration(string token)
    {
        var body = token.Trim('[', ']');
        var importing = body.Contains("-<-", StringComparison.Ordinal);
        var parts = body.Split(importing ? "-<-" : "->-");
        if (parts.Length != 2)
            throw new FormatException($"Not a CLUSTER NODES slot migration: \"{token}\".");
        return new SlotMigration(int.Parse(parts[0], CultureInfo.InvariantCulture), importing, parts[1]);
    }
}
