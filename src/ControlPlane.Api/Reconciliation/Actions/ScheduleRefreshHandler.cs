using ControlPlane.Domain.Planning;

namespace ControlPlane.Api.Reconciliation.Actions;

/// <summary>Outdated nodes outside the maintenance window: their renewal is scheduled for when it opens, with the planner's event.</summary>
public sealed class ScheduleRefreshHandler : ActionHandler<ScheduleRefresh, ITargetRecord>
{
    protected override Task RecordAsync(ScheduleRefresh action, ITargetRecord record, ActionPass pass)
    {
        record.ScheduleRefresh(action.NodeIds, action.At);
        pass.Event(action.Message);
        return Task.CompletedTask;
    }
}
