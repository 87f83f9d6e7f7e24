using System.Collections.Concurrent;
using ControlPlane.Api.Engines;
using ControlPlane.Domain;
using ControlPlane.Domain.Planning;
using Microsoft.EntityFrameworkCore;

namespace ControlPlane.Api.Reconciliation.Actions;

/// <summary>
/// Moves stored slots from one shard's primary to another's for a bounded time; each batch the mover
/// finishes is recorded at once (moves deleted, shards' slots updated). An engine that keeps refusing
/// (out of memory, say) has the reshard given up after a few attempts rather than retried for ever.
/// </summary>
public sealed class MoveSlotsHandler(ISlotMover mover, IRedisAdmin redis) : ActionHandler<MoveSlots, GroupRecord>
{
    /// <summary>How long one act moves slots before the group is observed again (a failure then is handled within this).</summary>
    private static readonly TimeSpan MoveBudget = TimeSpan.FromSeconds(2);

    /// <summary>Failed slot-moving acts in a row (the engines refusing, e.g. out of memory) after which a reshard is given up.</summary>
    private const int MoveAttempts = 5;

    /// <summary>Slot-moving acts that failed in a row, per group.</summary>
    private readonly ConcurrentDictionary<string, int> _moveFailures = new();

    protected override async Task StepAsync(MoveSlots action, GroupRecord record, ActionPass pass)
    {
        var ct = pass.Ct;
        try
        {
            await mover.MoveAsync(Master(action.FromShardId, pass), Master(action.ToShardId, pass), Masters(pass), action.Slots, (moved, keys) => pass.WriteAsync(async () =>
            {
                await using var tx = await pass.Db.Database.BeginTransactionAsync(ct);
                await pass.Db.SlotMoves.Where(x => x.ReplicationGroupId == record.Id && moved.Contains(x.Slot)).ExecuteDeleteAsync(ct);
                var gone = moved.ToHashSet();
                record.SetShardSlots(action.FromShardId, SlotRanges.Format(Slots(record.ShardSlots(action.FromShardId)).Where(s => !gone.Contains(s))));
                record.SetShardSlots(action.ToShardId, SlotRanges.Format(Slots(record.ShardSlots(action.ToShardId)).Concat(moved)));
                record.SlotMigrationProgress(null, await pass.Db.SlotMoves.CountAsync(x => x.ReplicationGroupId == record.Id, ct));
                await pass.Db.SaveChangesAsync(ct);
                await tx.CommitAsync(ct);
            }), MoveBudget, ct);
            _moveFailures.TryRemove(record.Id, out _);
        }
        catch (SlotMoveException e)
        {
            if (_moveFailures.AddOrUpdate(record.Id, 1, (_, n) => n + 1) < MoveAttempts)
                throw;
            pass.ReshardGivenUp = e.Message;
        }
    }

    /// <summary>Every move recorded itself as it went; what is left is giving the reshard up, once, when the moves failed too often.</summary>
    protected override async Task RecordAsync(MoveSlots action, GroupRecord record, ActionPass pass)
    {
        if (pass.ReshardGivenUp is not { } reason)
            return;
        pass.ReshardGivenUp = null;
        await AbandonReshardAsync(reason, record, pass);
    }

    /// <summary>
    /// Gives a reshard up: the slots that did not move are closed where they were (keys already on
    /// the receiving side go back, every master is told the old owner), the plan is deleted, leaving
    /// node groups stay, and the group is available with the node groups it has, with an event that says so.
    /// </summary>
    private async Task AbandonReshardAsync(string reason, GroupRecord record, ActionPass pass)
    {
        var ct = pass.Ct;
        _moveFailures.TryRemove(record.Id, out _);
        var remaining = await pass.Db.SlotMoves.Where(x => x.ReplicationGroupId == record.Id).ToListAsync(ct);
        foreach (var pair in remaining.GroupBy(x => (x.FromShardId, x.ToShardId)))
        {
            var slots = pair.Select(x => x.Slot).ToList();
            var (from, to) = (Master(pair.Key.FromShardId, pass), Master(pair.Key.ToShardId, pass));
            await mover.MoveAsync(to, from, Masters(pass), slots, (_, _) => Task.CompletedTask, TimeSpan.MaxValue, ct);
            // A slot that still holds keys keeps its MIGRATING mark through SETSLOT NODE; STABLE drops it on both sides.
            await redis.ClusterSetSlotsStableAsync(from.Host, from.Port, slots, ct);
            await redis.ClusterSetSlotsStableAsync(to.Host, to.Port, slots, ct);
        }
        // The plan goes with the record that gives it up, in one save: a plan deleted at once by a save
        // that then failed would leave the group modifying towards shards with nothing left to move.
        pass.Db.SlotMoves.RemoveRange(remaining);
        var shards = record.GiveUpReshard();
        pass.Event($"Modification of replication group {record.Id} failed and was stopped: {reason} "
            + $"{remaining.Count} slot(s) stayed with their node groups; the slots that had moved stay moved. The group is available with {shards} node group(s).");
        await pass.SaveAsync();
    }

    private static ClusterMaster Master(string shardId, ActionPass pass)
    {
        var node = pass.Primaries.GetValueOrDefault(shardId) ?? throw new InvalidOperationException($"Node group {shardId} has no available primary.");
        var place = pass.Place(node);
        return new ClusterMaster(place.Host!, place.Port!.Value, pass.Observed[node].ClusterId ?? throw new InvalidOperationException($"{node} has no cluster id."));
    }

    private static List<ClusterMaster> Masters(ActionPass pass) =>
        pass.Primaries.Values.Select(id => pass.Observed.GetValueOrDefault(id)).OfType<ObservedNode>()
            .Where(o => o.Reachable && o.ClusterId is not null).Select(o => new ClusterMaster(pass.Place(o.NodeId).Host!, pass.Place(o.NodeId).Port!.Value, o.ClusterId!)).ToList();

    private static IEnumerable<int> Slots(string? slots) => SlotRanges.TryParse(slots, out var ranges) ? SlotRanges.Expand(ranges) : [];
}
