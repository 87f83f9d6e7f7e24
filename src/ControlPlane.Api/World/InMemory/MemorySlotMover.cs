using ControlPlane.Api.Engines;

namespace ControlPlane.Api.World.InMemory;

/// <summary>
/// <see cref="ISlotMover"/> on a <see cref="MemoryWorld"/>: the slots change owner at once, with the
/// source's keys in proportion (keys are counted per node here, not per slot; real keys hash evenly).
/// Fails as <see cref="SlotMover"/> does: a node that does not answer or is not the one expected, a
/// slot on neither side (SlotMoveException).
/// </summary>
public sealed class MemorySlotMover(MemoryWorld world) : ISlotMover
{
    public async Task<SlotMoveResult> MoveAsync(ClusterMaster source, ClusterMaster target, IReadOnlyList<ClusterMaster> masters,
        IReadOnlyList<int> slots, Func<IReadOnlyList<int>, long, Task> onMoved, TimeSpan budget, CancellationToken ct)
    {
        if (source.ClusterId == target.ClusterId)
            throw new ArgumentException($"Source and target are the same node, {source}.", nameof(target));
        await Task.Yield();
        long keys;
        var moved = slots.Distinct().ToList();
        lock (world.Gate)
        {
            world.Called($"move {source} -> {target}");
            var from = Master(source);
            var to = Master(target);
            keys = from.GiveSlots(to, moved);
        }
        await onMoved(moved, keys);
        return new SlotMoveResult(moved, keys);
    }

    public ValueTask DisconnectAsync(string host, int port) => ValueTask.CompletedTask;

    private RedisProcess Master(ClusterMaster master) =>
        world.Listening(master.Host, master.Port) is RedisProcess { Hung: false, Cluster: true } node
            ? node.MyId == master.ClusterId ? node : throw new SlotMoveException($"{master.Host}:{master.Port} is node {node.MyId}, not the one expected, {master}.")
            : throw new SlotMoveException($"{master} does not answer.");
}
