using System.Text.RegularExpressions;

namespace ControlPlane.Domain;

/// <summary>Identifier rules shared by groups, clusters and snapshots, and the derived shard and node ids.</summary>
public static partial class Identifiers
{
    [GeneratedRegex(@"^[a-z](?:[a-z0-9]|-(?=[a-z0-9]))*\z")]
    private static partial Regex Shape();

    /// <summary>
    /// Ids are stored lowercased, so <c>Orders</c> and <c>orders</c> are the same group. Only ASCII
    /// letters are folded and nothing is trimmed: " orders" or the Kelvin sign (which
    /// ToLowerInvariant turns into "k") stay as sent and fail <see cref="Check"/>.
    /// </summary>
    public static string Normalize(string id) => string.Create(id.Length, id, static (chars, source) =>
    {
        for (var i = 0; i < source.Length; i++)
            chars[i] = char.IsAsciiLetterUpper(source[i]) ? (char)(source[i] | 0x20) : source[i];
    });

    /// <summary>The reason an id breaks the rules, or null when it is valid.</summary>
    public static string? Check(string? id, int maxLength)
    {
        if (string.IsNullOrEmpty(id))
            return "is required.";
        if (id.Length > maxLength)
            return $"must be at most {maxLength} characters.";
        if (!Shape().IsMatch(id))
            return "must contain only lowercase ASCII letters, digits and hyphens, start with a letter, not end with a hyphen and not contain two hyphens in a row.";
        return null;
    }

    /// <summary>ElastiCache's automated snapshots are "automatic.&lt;group&gt;-yyyy-MM-dd-HH-mm": the dot keeps them apart from every manual name.</summary>
    public const string AutomaticSnapshotPrefix = "automatic.";

    /// <summary>The reason the name of a snapshot to use (restore from) is invalid, or null: a manual name or an automated one.</summary>
    public static string? CheckExistingSnapshot(string name) =>
        name.StartsWith(AutomaticSnapshotPrefix, StringComparison.Ordinal)
            ? Check(name[AutomaticSnapshotPrefix.Length..], Limits.MaxGroupIdLength + "-yyyy-MM-dd-HH-mm".Length)
            : Check(name, Limits.MaxSnapshotNameLength);

    public static string ShardId(int index) => (index + 1).ToString("0000");

    public static string RedisNodeId(string groupId, string shardId, int ordinal) => $"{groupId}-{shardId}-{ordinal:000}";

    public static string MemcachedNodeId(string clusterId, int ordinal) => $"{clusterId}-{ordinal:0000}";

    /// <summary>The ordinal a node id ends with: 2 for orders-0001-002 and for sessions-0002.</summary>
    public static int Ordinal(string nodeId) => int.Parse(nodeId[(nodeId.LastIndexOf('-') + 1)..], System.Globalization.CultureInfo.InvariantCulture);
}
