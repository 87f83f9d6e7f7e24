using ControlPlane.Domain.Planning;

namespace ControlPlane.Api.Reconciliation.Actions;

/// <summary>
/// What <see cref="ActionExecutor"/> sees of a handler: the one place an action is carried out. Write a
/// handler by deriving from <see cref="ActionHandler{TAction, TRecord}"/>; it is found by its action's type.
/// </summary>
public interface IActionHandler
{
    /// <summary>The action this handler carries out.</summary>
    Type Action { get; }

    /// <summary>False for an action of a replication group asked of a cache cluster's record.</summary>
    bool AppliesTo(ITargetRecord record);

    /// <summary>A decision (a failover): stored, with the plan's node marks, before any engine step of the plan acts on it.</summary>
    bool IsDecision { get; }

    /// <summary>The shard's primary changes: the endpoints follow once the plan is recorded.</summary>
    bool ChangesRoles { get; }

    /// <summary>Once recorded, the group is gone or finished with: the convergence ends.</summary>
    bool EndsConvergence { get; }

    /// <summary>
    /// Carried out, the group still waits on its nodes (a wait, or an online step each node takes when it
    /// can): a plan of such steps alone is observed again after a wait, within the pass's budget, not at once.
    /// </summary>
    bool Waits { get; }

    Task PrepareAsync(IReadOnlyList<NodeAction> actions, ActionPass pass);

    Task StepAsync(NodeAction action, ActionPass pass);

    Task RecordAsync(NodeAction action, ActionPass pass);
}
