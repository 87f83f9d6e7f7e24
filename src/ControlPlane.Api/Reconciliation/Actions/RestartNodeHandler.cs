using ControlPlane.Domain.Planning;

namespace ControlPlane.Api.Reconciliation.Actions;

/// <summary>Reboots a node in place; once it is back it leaves the pending reboot list.</summary>
public sealed class RestartNodeHandler(NodeReboots reboots) : ActionHandler<RestartNode, ITargetRecord>
{
    protected override Task StepAsync(RestartNode action, ITargetRecord record, ActionPass pass) =>
        reboots.RestartAsync(pass.Place(action.NodeId), action.KeepData, pass.View, pass.Ct);

    protected override Task RecordAsync(RestartNode action, ITargetRecord record, ActionPass pass)
    {
        record.Rebooted(action.NodeId);
        pass.Event($"Cache node {action.NodeId} rebooted");
        return Task.CompletedTask;
    }
}
