using System.Globalization;

namespace ControlPlane.Domain;

/// <summary>Redis Cluster hash slots: parsing "0-100,200-300", printing, and the even split.</summary>
public static class SlotRanges
{
    public const int SlotCount = 16384;

    /// <summary>Redis' default: a node's cluster bus listens on its client port + 10000, so node ports are leased with that port free too.</summary>
    public const int ClusterBusOffset = 10000;

    /// <summary>Parses a slot list; false when it is malformed, out of 0-16383 or overlaps itself.</summary>
    public static bool TryParse(string? text, out IReadOnlyList<(int Start, int End)> ranges)
    {
        var parsed = new List<(int, int)>();
        ranges = parsed;
        if (string.IsNullOrWhiteSpace(text))
            return false;
        foreach (var part in text.Split(','))
        {
            // Digits only: no sign, no whitespace, as the contract spells them ("0-100,200-300").
            var bounds = part.Split('-');
            if (bounds.Length is < 1 or > 2
                || !int.TryParse(bounds[0], NumberStyles.None, CultureInfo.InvariantCulture, out var start)
                || !int.TryParse(bounds[^1], NumberStyles.None, CultureInfo.InvariantCulture, out var end)
                || start < 0 || end >= SlotCount || start > end)
                return false;
            parsed.Add((start, end));
        }
        return true;
    }

    public static IEnumerable<int> Expand(IEnumerable<(int Start, int End)> ranges) =>
        ranges.SelectMany(r => Enumerable.Range(r.Start, r.End - r.Start + 1));

    /// <summary>
    /// Prints ranges as compact ranges, "0-5460" or "0-100,200": sorted, and overlapping or adjacent
    /// ones merged, without listing every slot (each primary's ranges are printed at every observation).
    /// </summary>
    public static string Format(IEnumerable<(int Start, int End)> ranges) =>
        string.Join(',', Merge(ranges).Select(r => r.Start == r.End
            ? r.Start.ToString(CultureInfo.InvariantCulture)
            : string.Create(CultureInfo.InvariantCulture, $"{r.Start}-{r.End}")));

    /// <summary>Prints a set of slots as compact ranges, "0-5460" or "0-100,200".</summary>
    public static string Format(IEnumerable<int> slots) => Format(slots.Select(s => (s, s)));

    /// <summary>A set of slots as ascending runs of consecutive slots, as CLUSTER NODES lists them.</summary>
    public static IReadOnlyList<(int Start, int End)> Compact(IEnumerable<int> slots) => Merge(slots.Select(s => (s, s)));

    private static List<(int Start, int End)> Merge(IEnumerable<(int Start, int End)> ranges)
    {
        var merged = new List<(int Start, int End)>();
        foreach (var (start, end) in ranges.OrderBy(r => r.Start))
        {
            if (merged.Count > 0 && start <= merged[^1].End + 1)
                merged[^1] = (merged[^1].Start, Math.Max(merged[^1].End, end));
            else
                merged.Add((start, end));
        }
        return merged;
    }

    /// <summary>The even split redis-cli --cluster create makes: 3 shards are 0-5460, 5461-10922, 10923-16383.</summary>
    public static IReadOnlyList<string> EvenSplit(int shards)
    {
        var result = new List<string>(shards);
        var perShard = (double)SlotCount / shards;
        var first = 0;
        var cursor = 0.0;
        for (var i = 0; i < shards; i++)
        {
            var last = (int)Math.Round(cursor + perShard - 1);
            if (last > SlotCount - 1 || i == shards - 1)
                last = SlotCount - 1;
            result.Add($"{first}-{last}");
            first = last + 1;
            cursor += perShard;
        }
        return result;
    }

    /// <summary>Balanced when no shard has more than one slot above another, as the even split leaves them.</summary>
    public static bool IsBalanced(IEnumerable<string> shardSlots)
    {
        var counts = shardSlots.Select(s => TryParse(s, out var ranges) ? ranges.Sum(r => r.End - r.Start + 1) : 0).ToList();
        return counts.Count == 0 || counts.Max() - counts.Min() <= 1;
    }
}
