using ControlPlane.Domain.Planning;

namespace ControlPlane.Api.Reconciliation.Actions;

/// <summary>The user group revision every answering node holds: its users and the user group show active again.</summary>
public sealed class MarkClientAccessHandler : ActionHandler<MarkClientAccess, GroupRecord>
{
    protected override Task RecordAsync(MarkClientAccess action, GroupRecord record, ActionPass pass)
    {
        record.Entity.ClientAccessApplied = action.Applied;
        return Task.CompletedTask;
    }
}
