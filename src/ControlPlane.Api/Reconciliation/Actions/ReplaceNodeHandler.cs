using ControlPlane.Api.Runtime;
using ControlPlane.Domain.Planning;

namespace ControlPlane.Api.Reconciliation.Actions;

/// <summary>A failed node gives way to a new one (new id, no port yet) in the zone the plan chose.</summary>
public sealed class ReplaceNodeHandler(NodeRemover remover) : ActionHandler<ReplaceNode, ITargetRecord>
{
    protected override async Task StepAsync(ReplaceNode action, ITargetRecord record, ActionPass pass)
    {
        // The node is fenced already; removing again is a no-op, and an unreachable zone keeps it for orphan removal.
        try
        {
            await remover.RemoveAsync(pass.Place(action.NodeId), pass.View, pass.Ct);
        }
        catch (Exception e) when (e is not OperationCanceledException || !pass.Ct.IsCancellationRequested)
        {
            // Its engine does not answer; the container has no restart policy and goes as an orphan later.
            // Its port stays leased until then, so no new node binds where it may still listen.
            pass.StillLeased.Add(action.NodeId);
        }
    }

    protected override async Task RecordAsync(ReplaceNode action, ITargetRecord record, ActionPass pass)
    {
        if (!pass.StillLeased.Contains(action.NodeId))
            await PortAllocator.ReleaseOnSaveAsync(pass.Db, [action.NodeId], pass.Ct);
        var replacement = record.Replace(action.NodeId, action.Zone, action.AsPrimary);
        pass.Event($"Recovering cache nodes {action.NodeId}");
        if (action.DataLost)
            pass.Event($"Cache node {action.NodeId} was lost with no replica to fail over to; {replacement} replaces it empty and the data it held is lost");
    }
}
