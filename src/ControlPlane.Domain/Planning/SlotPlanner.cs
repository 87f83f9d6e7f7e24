namespace ControlPlane.Domain.Planning;

/// <summary>Which slots move where when shards are added, removed or rebalanced.</summary>
public static class SlotPlanner
{
    /// <summary>
    /// Moves that leave every staying shard with an even share (16384 / n, the first shares one more)
    /// and the leaving ones with none, moving as few slots as possible: shards that hold the most keep
    /// the larger shares, donors give from the top of their ranges, receivers take contiguous runs.
    /// </summary>
    public static IReadOnlyList<SlotMove> Rebalance(IReadOnlyList<(string Id, string Slots)> staying, IReadOnlyList<(string Id, string Slots)> leaving)
    {
        if (staying.Count == 0)
            return [];
        var held = staying.Concat(leaving).ToDictionary(s => s.Id, s => Slots(s.Slots));
        var share = SlotRanges.SlotCount / staying.Count;
        var larger = SlotRanges.SlotCount % staying.Count;
        var quota = staying.OrderByDescending(s => held[s.Id].Count).ThenBy(s => s.Id, StringComparer.Ordinal)
            .Select((s, i) => (s.Id, Quota: share + (i < larger ? 1 : 0)))
            .ToDictionary(q => q.Id, q => q.Quota);

        var pool = new List<(int Slot, string From)>();
        foreach (var (id, _) in leaving)
            pool.AddRange(held[id].Select(slot => (slot, id)));
        foreach (var (id, _) in staying.OrderBy(s => s.Id, StringComparer.Ordinal))
            pool.AddRange(held[id].TakeLast(Math.Max(0, held[id].Count - quota[id])).Select(slot => (slot, id)));

        var moves = new List<SlotMove>();
        var next = 0;
        foreach (var (id, _) in staying.OrderBy(s => s.Id, StringComparer.Ordinal))
            for (var need = quota[id] - held[id].Count; need > 0 && next < pool.Count; need--, next++)
                moves.Add(new SlotMove(pool[next].Slot, pool[next].From, id));
        return moves;
    }

    private static List<int> Slots(string slots) =>
        SlotRanges.TryParse(slots, out var ranges) ? SlotRanges.Expand(ranges).Order().ToList() : [];
}
