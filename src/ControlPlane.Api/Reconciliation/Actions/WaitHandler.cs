using ControlPlane.Domain.Planning;

namespace ControlPlane.Api.Reconciliation.Actions;

/// <summary>
/// Next to other steps a wait changes nothing (the plan is observed again once they are done); a plan
/// of waits alone is not acted on at all (<see cref="ActionExecutor"/> waits, or fails a create that took too long).
/// </summary>
public sealed class WaitHandler : ActionHandler<Wait, ITargetRecord>
{
    public override bool Waits => true;
}
