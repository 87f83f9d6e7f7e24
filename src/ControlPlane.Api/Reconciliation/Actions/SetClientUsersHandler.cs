using ControlPlane.Domain.Planning;

namespace ControlPlane.Api.Reconciliation.Actions;

/// <summary>
/// Gives nodes their group's client users (the pass carries them), online, all at once. In the prepare
/// phase: before any other step of the plan acts (wiring the same nodes to serve) or is recorded
/// (marking them available). A failure is logged, not thrown for: the node stays shut to clients, and
/// the planner asks again at the next step.
/// </summary>
public sealed class SetClientUsersHandler(ClientAccessApplier clientAccess) : ActionHandler<SetClientUsers, GroupRecord>
{
    // Alone in a plan (a node that refused its users, or did not answer in time, being asked again), the
    // next try comes after a wait, within the pass's budget, not in a loop of immediate re-plans.
    public override bool Waits => true;

    protected override Task PrepareAsync(IReadOnlyList<SetClientUsers> actions, GroupRecord record, ActionPass pass)
    {
        var users = pass.ClientUsers ?? throw new InvalidOperationException($"The pass of {record.Id} carries no client users.");
        return Task.WhenAll(actions.Select(a => clientAccess.ApplyAsync(pass.Place(a.NodeId), pass.View, users, pass.Ct)));
    }
}
