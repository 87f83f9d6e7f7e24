using static ControlPlane.Domain.Planning.PlannerSteps;

namespace ControlPlane.Domain.Planning;

public static partial class RedisPlanner
{
    /// <summary>
    /// A group modifying for an online change (an auth token, the users, a transit encryption step),
    /// whatever else the modification asked of the topology done: it is available again only once every
    /// node taking part holds the change. A node that failed, or is on its way out, does not hold the
    /// group for ever: its replacement starts with the group's users and transit encryption mode. This
    /// is reached only once failures are healed: the planner heals before it settles.
    /// </summary>
    private static IReadOnlyList<NodeAction> AwaitOnlineChanges(DesiredGroup group, PendingChanges pending, Func<DesiredNode, ObservedNode> seen)
    {
        var settle = Lagging(group, pending, seen) is { } lagging
            ? (NodeAction)new Wait(lagging)
            : new MarkGroup(GroupStatus.Available, Done(group.Id, pending));
        // The users need no step here: a node that answers without them is given them in the same plan
        // (ClientUsers), and waited for until it holds them. The transit step is taken at every step while
        // it is pending, also once every node's row says it is at the mode: the replication and cluster-bus
        // links, which nobody observes, switch to TLS in that step, and one cut short after the last node's
        // mode was saved is finished there before the group says available. Beside the wait, the step waits
        // too (its handler says so): a node that cannot move yet, or fails to, is tried again after the
        // wait, within the pass's budget, not at once and for ever.
        return pending.TransitEncryptionMode is not null ? [new StepTransitEncryption(), settle] : [settle];
    }

    /// <summary>What the nodes taking part do not hold yet of the pending changes (the users, the group's transit encryption mode), or null when every one holds them.</summary>
    private static string? Lagging(DesiredGroup group, PendingChanges pending, Func<DesiredNode, ObservedNode> seen)
    {
        var taking = group.Nodes.Where(Active).OrderBy(n => n.Id, StringComparer.Ordinal).ToList();
        var lagging = new List<string>();
        // Held, as far as this step knows, by a node that answers it.
        if (pending.ChangesUsers && taking.Where(n => seen(n) is not { Reachable: true, HoldsUsers: true }).Select(n => n.Id).ToList() is { Count: > 0 } without)
            lagging.Add($"cache nodes {string.Join(", ", without)} do not hold the group's client users yet");
        if (pending.TransitEncryptionMode is not null
            && taking.Where(n => n.TransitEncryptionMode != group.TransitEncryptionMode).Select(n => n.Id).ToList() is { Count: > 0 } behind)
            lagging.Add($"cache nodes {string.Join(", ", behind)} are not at transit encryption mode {group.TransitEncryptionMode} yet");
        return lagging.Count == 0 ? null : string.Join("; ", lagging);
    }

    /// <summary>The event once every node holds the changes.</summary>
    private static string Done(string groupId, PendingChanges pending)
    {
        var done = new List<string>();
        if (pending.AuthTokenUpdateStrategy is { } strategy)
            done.Add(strategy switch
            {
                "rotate" => "the new auth token is accepted on every node, the previous one too until it is set",
                "set" => "only the new auth token is accepted on every node",
                _ => "the auth token is deleted on every node",
            });
        if (pending.UserGroupIds is { } userGroups)
            done.Add(userGroups is { Count: > 0 } ids
                ? $"every node holds the users of user group {string.Join(", ", ids)}"
                : "every node is open to clients without a user group");
        if (pending.TransitEncryptionMode is { } mode)
            done.Add($"every node serves transit encryption mode {mode.To}");
        return $"Modification complete for replication group {groupId}: {string.Join("; ", done)}";
    }
}
