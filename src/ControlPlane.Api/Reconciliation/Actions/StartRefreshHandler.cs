using ControlPlane.Domain.Planning;

namespace ControlPlane.Api.Reconciliation.Actions;

/// <summary>Outdated nodes are renewed now: the group or cluster turns modifying with them pending, with the planner's event.</summary>
public sealed class StartRefreshHandler : ActionHandler<StartRefresh, ITargetRecord>
{
    protected override Task RecordAsync(StartRefresh action, ITargetRecord record, ActionPass pass)
    {
        record.StartRefresh(action.NodeIds);
        pass.Event(action.Message);
        return Task.CompletedTask;
    }
}
