namespace ControlPlane.Api.Engines;

/// <summary>
/// The port that moves Redis Cluster hash slots (and their keys) between masters; <see cref="SlotMover"/>
/// is the real one.
/// </summary>
public interface ISlotMover
{
    /// <summary>
    /// Moves every slot in <paramref name="slots"/> from <paramref name="source"/> to <paramref name="target"/> so that,
    /// when a slot is reported, the target owns it in its own view, in the source's view and in the view of every
    /// master in <paramref name="masters"/>. Idempotent and resumable: a slot found half-moved is finished.
    /// <paramref name="onMoved"/> is awaited after each group of finished slots; <paramref name="budget"/> bounds
    /// the call (the first group is always started, so every call makes progress).
    /// </summary>
    /// <exception cref="SlotMoveException">MIGRATE failed, a node is not the one expected, or a slot is on neither side.</exception>
    Task<SlotMoveResult> MoveAsync(ClusterMaster source, ClusterMaster target, IReadOnlyList<ClusterMaster> masters,
        IReadOnlyList<int> slots, Func<IReadOnlyList<int>, long, Task> onMoved, TimeSpan budget, CancellationToken ct);

    /// <summary>Closes the cached connection of a node that was removed: its port may be reused by another node.</summary>
    ValueTask DisconnectAsync(string host, int port);
}
