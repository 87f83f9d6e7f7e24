using ControlPlane.Api.Engines;
using ControlPlane.Domain;
using ControlPlane.Domain.Planning;

namespace ControlPlane.Api.Reconciliation.Actions;

/// <summary>CLUSTER ADDSLOTSRANGE on a shard's primary, for slots nobody serves yet.</summary>
public sealed class AssignSlotsHandler(IRedisAdmin redis) : ActionHandler<AssignSlots, GroupRecord>
{
    protected override Task StepAsync(AssignSlots action, GroupRecord record, ActionPass pass)
    {
        var slotOwner = pass.Place(action.NodeId);
        if (!SlotRanges.TryParse(action.Slots, out var ranges))
            throw new InvalidOperationException($"Invalid slots {action.Slots}");
        return redis.ClusterAddSlotsRangeAsync(slotOwner.Host!, slotOwner.Port!.Value, ranges, pass.Ct);
    }
}
