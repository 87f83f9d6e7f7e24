using ControlPlane.Domain.Planning;

namespace ControlPlane.Api.Reconciliation.Actions;

/// <summary>Removes a node's container (fencing a failed primary, an outdated container, a teardown); the node's row stays.</summary>
public sealed class RemoveContainerHandler(NodeRemover remover) : ActionHandler<RemoveContainer, ITargetRecord>
{
    protected override Task StepAsync(RemoveContainer action, ITargetRecord record, ActionPass pass) =>
        remover.RemoveAsync(pass.Place(action.NodeId), pass.View, pass.Ct);
}
