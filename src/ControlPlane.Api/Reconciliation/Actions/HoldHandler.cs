using ControlPlane.Domain.Planning;

namespace ControlPlane.Api.Reconciliation.Actions;

/// <summary>
/// Held fire changes nothing next to other steps; a plan that only holds is told once in an event by
/// <see cref="ActionExecutor"/>, not at every pass it lasts.
/// </summary>
public sealed class HoldHandler : ActionHandler<Hold, ITargetRecord>
{
    public override bool Waits => true;
}
