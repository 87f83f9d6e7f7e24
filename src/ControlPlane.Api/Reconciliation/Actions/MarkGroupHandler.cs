using ControlPlane.Domain.Planning;

namespace ControlPlane.Api.Reconciliation.Actions;

/// <summary>Converged for now: the group's status, with the plan's event.</summary>
public sealed class MarkGroupHandler : ActionHandler<MarkGroup, ITargetRecord>
{
    protected override Task RecordAsync(MarkGroup action, ITargetRecord record, ActionPass pass)
    {
        record.MarkGroup(action.Status);
        pass.Event(action.Message);
        return Task.CompletedTask;
    }
}
