using ControlPlane.Api.Data;
using ControlPlane.Domain;
using ControlPlane.Domain.Planning;

namespace ControlPlane.Api.Reconciliation.Actions;

/// <summary>The migration plan is stored before any slot moves (a control plane that restarts carries it on); leaving shards are marked deleting.</summary>
public sealed class PlanSlotMovesHandler : ActionHandler<PlanSlotMoves, GroupRecord>
{
    protected override Task RecordAsync(PlanSlotMoves action, GroupRecord record, ActionPass pass)
    {
        pass.Db.SlotMoves.AddRange(action.Moves.Select(m => new SlotMoveEntity { ReplicationGroupId = record.Id, Slot = m.Slot, FromShardId = m.FromShardId, ToShardId = m.ToShardId }));
        foreach (var leaving in action.LeavingShardIds)
            record.MarkShard(leaving, ShardStatus.Deleting);
        record.SlotMigrationProgress(action.Moves.Count, action.Moves.Count);
        pass.Event(action.Moves.Count == 0
            ? $"Node groups {string.Join(", ", action.LeavingShardIds)} hold no slots and are removed"
            : $"Slot migration started: {action.Moves.Count} slots move, "
                + string.Join("; ", action.Moves.GroupBy(m => (m.FromShardId, m.ToShardId)).Select(g => $"{g.Count()} from node group {g.Key.FromShardId} to {g.Key.ToShardId}")));
        return Task.CompletedTask;
    }
}
