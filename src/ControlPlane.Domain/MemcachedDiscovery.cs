using System.Globalization;
using System.Text;

namespace ControlPlane.Domain;

/// <summary>
/// ElastiCache's Memcached auto discovery answer to <c>config get cluster</c>: a CONFIG header with the
/// length of the body, the body (the configuration version on one line, then host|ip|port of every
/// node separated by spaces), then END.
/// </summary>
public static class MemcachedDiscovery
{
    public static string ConfigAnswer(long version, IReadOnlyList<(string Host, string Ip, int Port)> nodes)
    {
        var body = $"{version.ToString(CultureInfo.InvariantCulture)}\n"
            + string.Join(' ', nodes.Select(n => $"{n.Host}|{n.Ip}|{n.Port.ToString(CultureInfo.InvariantCulture)}")) + "\n";
        return $"CONFIG cluster 0 {Encoding.ASCII.GetByteCount(body).ToString(CultureInfo.InvariantCulture)}\r\n{body}\r\nEND\r\n";
    }

    /// <summary>Storage commands carry a data block of the length in their fifth word.</summary>
    public static bool HasDataBlock(string command) => command is "set" or "add" or "replace" or "append" or "prepend" or "cas";

    /// <summary>Answers that are a list closed by END (or an error line) rather than one line.</summary>
    public static bool AnswersWithList(string command) => command is "get" or "gets" or "gat" or "gats" or "stats" or "lru_crawler" or "slabs";
}
