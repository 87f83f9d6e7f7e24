using ControlPlane.Domain.Planning;

namespace ControlPlane.Api.Reconciliation.Actions;

/// <summary>
/// Carries out one kind of action: its engine step, then its record in the database. TRecord is
/// <see cref="ITargetRecord"/> for an action of both engines, <see cref="GroupRecord"/> for one that
/// only a Redis replication group has (shards, slots, roles). Each phase does nothing unless overridden.
/// </summary>
public abstract class ActionHandler<TAction, TRecord> : IActionHandler
    where TAction : NodeAction
    where TRecord : class, ITargetRecord
{
    public Type Action => typeof(TAction);

    public bool AppliesTo(ITargetRecord record) => record is TRecord;

    public virtual bool IsDecision => false;

    public virtual bool ChangesRoles => false;

    public virtual bool EndsConvergence => false;

    public virtual bool Waits => false;

    /// <summary>Before any engine step of the plan, with every action of this kind in it at once.</summary>
    protected virtual Task PrepareAsync(IReadOnlyList<TAction> actions, TRecord record, ActionPass pass) => Task.CompletedTask;

    /// <summary>The engine step (containers, engines): runs at the same time as the plan's other steps.</summary>
    protected virtual Task StepAsync(TAction action, TRecord record, ActionPass pass) => Task.CompletedTask;

    /// <summary>What the step did, written to the database: in plan order once every step is done, saved together.</summary>
    protected virtual Task RecordAsync(TAction action, TRecord record, ActionPass pass) => Task.CompletedTask;

    Task IActionHandler.PrepareAsync(IReadOnlyList<NodeAction> actions, ActionPass pass) => PrepareAsync(actions.OfType<TAction>().ToList(), RecordOf(pass), pass);

    Task IActionHandler.StepAsync(NodeAction action, ActionPass pass) => StepAsync((TAction)action, RecordOf(pass), pass);

    Task IActionHandler.RecordAsync(NodeAction action, ActionPass pass) => RecordAsync((TAction)action, RecordOf(pass), pass);

    private static TRecord RecordOf(ActionPass pass) => pass.Record as TRecord
        ?? throw new InvalidOperationException($"{typeof(TAction).Name} is no action for {pass.Record.SourceType} {pass.Record.Id}.");
}
