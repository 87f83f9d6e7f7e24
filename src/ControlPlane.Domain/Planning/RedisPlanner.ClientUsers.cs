namespace ControlPlane.Domain.Planning;

public static partial class RedisPlanner
{
    /// <summary>
    /// Every node that answers and does not hold its group's client users is given them, in the step
    /// that wires it: the executor writes them before any other step of the plan acts or is recorded
    /// (<see cref="SetClientUsers"/>), so a node starts shut to clients, and without the endpoint proxy's
    /// health user, only until the step that makes it serve (replication, cluster slots, marked
    /// available). A step of its own first would leave a replacement unwired, its shard one copy short,
    /// for a step longer (for a pass, in a settled group): the simulation lost a shard in that window.
    /// A node whose write fails is shut to clients, not open: it is written again at the next step, the
    /// users then alone in the plan, which waits. Only a fresh answer counts: a write to a node that
    /// missed its last probe could hang the plan for the command timeout; such a node is not wired
    /// while it starts either (<see cref="PlannerSteps.Containers"/>).
    /// </summary>
    private static IEnumerable<NodeAction> ClientUsers(DesiredGroup group, IReadOnlyDictionary<string, ObservedNode> observed) =>
        group.Nodes.Where(n => observed.GetValueOrDefault(n.Id) is { Reachable: true, Stale: false, HoldsUsers: false }).Select(n => new SetClientUsers(n.Id));

    /// <summary>
    /// The plan with the client users of the nodes that lack them, and, once every node that answers
    /// holds them, the group's mark of the user group revision they hold (only recorded, so it goes
    /// with whatever else is done). Nothing with a failed create, which ends there, or a group being
    /// deleted; no users beside a failure being handled: a failover never waits on a write to other nodes.
    /// </summary>
    private static IReadOnlyList<NodeAction> WithClientAccess(DesiredGroup group, IReadOnlyDictionary<string, ObservedNode> observed, IReadOnlyList<NodeAction> plan, bool healing)
    {
        if (group.Status is GroupStatus.Deleting or GroupStatus.CreateFailed || plan.Any(a => a is Fail))
            return plan;
        var users = healing ? [] : ClientUsers(group, observed).ToList();
        var lacking = group.Nodes.Any(n => observed.GetValueOrDefault(n.Id) is { Reachable: true, HoldsUsers: false });
        return lacking || group.ClientAccessApplied == group.ClientAccess ? [.. plan, .. users] : [.. plan, new MarkClientAccess(group.ClientAccess)];
    }
}
