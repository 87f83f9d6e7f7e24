using ControlPlane.Domain.Planning;

namespace ControlPlane.Api.Reconciliation.Actions;

/// <summary>A node marked deleting goes: its container, then its port lease and its row.</summary>
public sealed class RemoveNodeHandler(NodeRemover remover) : ActionHandler<RemoveNode, ITargetRecord>
{
    protected override Task StepAsync(RemoveNode action, ITargetRecord record, ActionPass pass) =>
        remover.RemoveAsync(pass.Place(action.NodeId), pass.View, pass.Ct);

    protected override async Task RecordAsync(RemoveNode action, ITargetRecord record, ActionPass pass)
    {
        await PortAllocator.ReleaseOnSaveAsync(pass.Db, [action.NodeId], pass.Ct);
        record.RemoveNode(action.NodeId);
        pass.Event($"Removed cache node {action.NodeId}");
    }
}
