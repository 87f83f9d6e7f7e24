using ControlPlane.Api.Runtime;
using ControlPlane.Domain.Planning;

namespace ControlPlane.Api.Reconciliation.Actions;

/// <summary>Starts the node's container; the pass's view knows it at once.</summary>
public sealed class StartContainerHandler(ZoneRegistry zones) : ActionHandler<StartContainer, ITargetRecord>
{
    protected override async Task StepAsync(StartContainer action, ITargetRecord record, ActionPass pass)
    {
        var place = pass.Place(action.NodeId);
        pass.View.Started(action.NodeId, await zones[place.Zone].Runtime.RunAsync(place.Spec!, pass.Ct));
    }
}
