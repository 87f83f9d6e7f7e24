using ControlPlane.Domain.Planning;

namespace ControlPlane.Api.Reconciliation.Actions;

/// <summary>The node's parameterGroupStatus, as the API shows it; no event, as none was ever told of it.</summary>
public sealed class MarkParameterStatusHandler : ActionHandler<MarkParameterStatus, ITargetRecord>
{
    protected override Task RecordAsync(MarkParameterStatus action, ITargetRecord record, ActionPass pass)
    {
        record.MarkParameterStatus(action.NodeId, action.Status);
        return Task.CompletedTask;
    }
}
