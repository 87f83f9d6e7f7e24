using System.Collections;
using ControlPlane.Domain;

namespace ControlPlane.Api.World.InMemory;

/// <summary>
/// A fake node's hash slots, with their ranges kept between changes. Every node answers CLUSTER
/// NODES with every peer's ranges on every full observation; worked out from the slots each time,
/// that made the fake world itself most of the control plane's CPU at 3,000 nodes (the real Redis
/// keeps its slots as a bitmap and writes the text in C).
/// </summary>
public sealed class SlotSet : IReadOnlyCollection<int>
{
    private readonly SortedSet<int> _slots = [];
    private IReadOnlyList<(int Start, int End)>? _ranges;

    public int Count => _slots.Count;

    public bool Contains(int slot) => _slots.Contains(slot);

    public bool Add(int slot) => Changed(_slots.Add(slot));

    public bool Remove(int slot) => Changed(_slots.Remove(slot));

    public void Clear() => Changed(_slots.Count > 0 && _slots.RemoveWhere(_ => true) > 0);

    /// <summary>The slots as ascending runs of consecutive numbers, as CLUSTER NODES lists them.</summary>
    public IReadOnlyList<(int Start, int End)> Ranges => _ranges ??= SlotRanges.Compact(_slots);

    public IEnumerator<int> GetEnumerator() => _slots.GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    private bool Changed(bool changed)
    {
        if (changed)
            _ranges = null;
        return changed;
    }
}
