using ControlPlane.Api.Runtime;
using System.Collections.Concurrent;
using ControlPlane.Api.Monitoring;
using ControlPlane.Domain.Planning;

namespace ControlPlane.Api.Reconciliation.Actions;

/// <summary>
/// Carries out one plan against the engines and the database. Each action has one handler, found by
/// the action's type, that does its engine step and records it. This class only keeps the order a
/// plan needs as a whole: what must precede everything prepared (ports leased, client users written),
/// decisions stored, every engine step at once, then every record in plan order, saved together.
/// </summary>
public sealed partial class ActionExecutor(
    IEnumerable<IActionHandler> handlers, ControlPlaneMetrics metrics, ILogger<ActionExecutor> logger)
{
    private readonly Dictionary<Type, IActionHandler> _handlers = handlers.ToDictionary(h => h.Action);

    /// <summary>The reason a group's nodes are held (not failed over) and that was told in an event, per group.</summary>
    private readonly ConcurrentDictionary<string, string> _held = new();

    public async Task<Progress> RunAsync(IReadOnlyList<NodeAction> plan, ActionPass pass, DateTimeOffset? creatingSince, bool settled)
    {
        var record = pass.Record;
        if (plan.Count == 0)
            return Progress.Quiet;
        if (plan.OfType<Fail>().FirstOrDefault() is { } fail)
            return await FailAsync(fail, pass);
        if (plan.All(a => a is Wait or Hold))
        {
            var why = plan[0] is Wait w ? w.Reason : ((Hold)plan[0]).Reason;
            LogWaiting(logger, record.Id, why);
            // Held fire is told once, not at every pass it lasts.
            if (plan.OfType<Hold>().Select(h => h.Reason).FirstOrDefault() is { } held && _held.GetValueOrDefault(record.Id) != held)
            {
                _held[record.Id] = held;
                pass.Event(held);
                await pass.SaveAsync();
            }
            return settled ? Progress.Settled : Progress.Waiting;
        }
        // Still held beside other steps (a certificate renewed while a shard waits): told already, not again.
        if (!plan.Any(a => a is Hold))
            _held.TryRemove(record.Id, out _);
        var steps = plan.Select(a => (Action: a, Handler: HandlerOf(a, pass))).ToList();
        using var activity = pass.TraceParent is null
            ? ControlPlaneMetrics.Activities.StartActivity("converge")
            : ControlPlaneMetrics.Activities.StartActivity("converge", System.Diagnostics.ActivityKind.Internal, pass.TraceParent);
        activity?.SetTag("controlplane.group", record.Id);
        LogActing(logger, record.Id, string.Join(", ", plan.Where(a => a is not Wait)));

        // Ports are leased (committed) before anything may bind them, and nodes given their client users
        // before anything wires them to serve.
        foreach (var kind in steps.GroupBy(s => s.Handler))
            await kind.Key.PrepareAsync(kind.Select(s => s.Action).ToList(), pass);
        // A decision is stored before anything acts on it: a control plane that dies after this point
        // finds it stored and finishes it. The endpoints follow the new roles at once.
        var decided = new HashSet<NodeAction>();
        if (steps.Any(s => s.Handler.IsDecision))
        {
            decided.UnionWith(steps.Where(s => s.Handler.IsDecision || s.Action is MarkNode).Select(s => s.Action));
            foreach (var (action, handler) in steps.Where(s => decided.Contains(s.Action)))
                await handler.RecordAsync(action, pass);
            if (!await pass.SaveAsync())
                return Progress.Acted; // changed by the API meanwhile: observe and plan again
            await pass.RolesChanged();
        }
        try
        {
            await Task.WhenAll(steps.Select(s => CountedStepAsync(s.Action, s.Handler, pass)));
        }
        catch (RuntimeNotFoundException) when (creatingSince is not null)
        {
            // No such image: nothing a retry fixes.
            return await FailAsync(new Fail("A node could not start: its engine image is not available on the container host"), pass);
        }

        foreach (var (action, handler) in steps.Where(s => !decided.Contains(s.Action)))
            await handler.RecordAsync(action, pass);
        await pass.SaveAsync();
        if (steps.Any(s => s.Handler.ChangesRoles))
            await pass.RolesChanged();
        if (steps.Any(s => s.Handler.EndsConvergence))
            return Progress.Done;
        // Steps that leave the group waiting on its nodes (a transit step beside the wait for it) are followed
        // by a wait, as a plan of waits alone: planned again at once, a node that cannot take its step yet, or
        // fails it, would be asked again and again for as long as it lasts, the pass's budget never consulted.
        return steps.All(s => s.Handler.Waits) ? (settled ? Progress.Settled : Progress.Waiting) : Progress.Acted;
    }

    /// <summary>The create cannot finish: nothing else of the plan runs, and the convergence ends.</summary>
    private async Task<Progress> FailAsync(Fail fail, ActionPass pass)
    {
        var handler = HandlerOf(fail, pass);
        await handler.StepAsync(fail, pass);
        await handler.RecordAsync(fail, pass);
        await pass.SaveAsync();
        return Progress.Done;
    }

    private IActionHandler HandlerOf(NodeAction action, ActionPass pass) =>
        _handlers.TryGetValue(action.GetType(), out var handler) && handler.AppliesTo(pass.Record)
            ? handler
            : throw new InvalidOperationException($"No handler carries out {action.GetType().Name} for {pass.Record.SourceType} {pass.Record.Id}.");

    /// <summary>The engine step, counted by kind and result for /metrics.</summary>
    private async Task CountedStepAsync(NodeAction action, IActionHandler handler, ActionPass pass)
    {
        using var scope = logger.BeginScope(new Dictionary<string, object?>
        {
            ["action"] = action.GetType().Name,
            // The node it acts on, where it has one (most actions do).
            ["node"] = action.GetType().GetProperty("NodeId")?.GetValue(action) as string,
        });
        try
        {
            await handler.StepAsync(action, pass);
            metrics.ActionDone(action.GetType().Name, succeeded: true);
        }
        catch
        {
            metrics.ActionDone(action.GetType().Name, succeeded: false);
            throw;
        }
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "{Id} waits: {Reason}")]
    private static partial void LogWaiting(ILogger logger, string id, string reason);

    [LoggerMessage(Level = LogLevel.Debug, Message = "{Id} acts: {Steps}")]
    private static partial void LogActing(ILogger logger, string id, string steps);
}
