namespace ControlPlane.Domain.Planning;

/// <summary>
/// The steps both planners take alike (Redis groups and Memcached clusters): failure reports and
/// their holds, replacements and their zones, ports and containers, teardown, placement.
/// </summary>
internal static class PlannerSteps
{
    /// <summary>Nodes that take part: not failed, not on their way out.</summary>
    internal static bool Active(DesiredNode n) => n.Status is not (NodeStatus.Failed or NodeStatus.Deleting);

    /// <summary>
    /// A node is dead when its container is gone or exited, or it stopped answering (the observer counts
    /// the misses). A node not heard from yet is not dead: no probe history is no evidence.
    /// </summary>
    internal static bool Dead(ObservedNode o) => o.Gone || o.Unanswering;

    /// <summary>
    /// The serving nodes that answer this step: the ones an online step (a certificate renewed, say) can
    /// ask. One that waits does not keep the others from being asked.
    /// </summary>
    internal static IEnumerable<DesiredNode> Answering(IEnumerable<DesiredNode> nodes, IReadOnlyDictionary<string, ObservedNode> observed) =>
        nodes.Where(n => n.Status == NodeStatus.Available && n.Port is not null && observed.GetValueOrDefault(n.Id) is { Reachable: true });

    /// <summary>A node's certificate is due for renewal (the reconciler gives a renewal time only to a node that speaks TLS).</summary>
    internal static bool CertificateDue(DesiredNode node, DateTimeOffset now) => node.CertificateRenewAt <= now;

    /// <summary>
    /// The nodes to report failed: every available node whose container is gone, and those that stopped
    /// answering unless no node of their shard answers any more (and their zone is not down past the grace). Then the silent ones are held (one Hold
    /// step): failing them over or replacing them empty could lose data that is still there.
    /// </summary>
    internal static List<NodeAction> Report(IReadOnlyList<DesiredNode> shardNodes, Func<DesiredNode, ObservedNode> seen, PlanContext context, string what)
    {
        var available = shardNodes.Where(n => n.Status == NodeStatus.Available).ToList();
        // A zone down for longer than the grace is evidence too: its engine is gone, not merely slow to answer us.
        bool Certain(DesiredNode n) => seen(n).Gone || (seen(n).Unanswering && context.ZonesDown.Contains(n.Zone));
        var steps = available.Where(Certain).Select(n => (NodeAction)new MarkNode(n.Id, NodeStatus.Failed, n.Role)).ToList();
        var silent = available.Where(n => seen(n).Unanswering && !Certain(n)).ToList();
        if (silent.Count == 0)
            return steps;
        if (shardNodes.Any(n => Active(n) && seen(n).Reachable))
            return [.. steps, .. silent.Select(n => (NodeAction)new MarkNode(n.Id, NodeStatus.Failed, n.Role))];
        return [.. steps, new Hold($"Cache nodes {string.Join(", ", silent.Select(n => n.Id))} of {what} stopped answering at once while their containers run; "
            + "this is more likely the control plane's own problem than theirs, so nothing is failed over or replaced until there is evidence")];
    }

    internal static List<NodeAction> Replace(IEnumerable<DesiredNode> failed, IReadOnlyList<DesiredNode> all, Func<DesiredNode, ObservedNode> seen, PlanContext context)
    {
        var steps = new List<NodeAction>();
        foreach (var node in failed)
        {
            var siblings = all.Where(n => n.ShardId == node.ShardId).ToList();
            steps.Add(ReplacementZone(node, siblings, context) is { } zone
                ? new ReplaceNode(node.Id, zone)
                : new Wait($"the zone of node {node.Id} is unreachable; waiting for it before placing the replacement elsewhere"));
        }
        return steps.Any(s => s is not Wait) ? steps.Where(s => s is not Wait).ToList() : steps;
    }

    /// <summary>
    /// The failed node's zone; nothing while that zone is unreachable within the grace; past the
    /// grace, the reachable zone with the fewest nodes of the shard.
    /// </summary>
    internal static string? ReplacementZone(DesiredNode node, IReadOnlyList<DesiredNode> shardNodes, PlanContext context)
    {
        if (!context.Unreachable(node.Zone))
            return node.Zone;
        if (!context.ZonesDown.Contains(node.Zone))
            return null;
        return context.Zones.Where(z => !context.Unreachable(z))
            .OrderBy(z => shardNodes.Count(n => n.Zone == z && n.Status != NodeStatus.Failed)).ThenBy(z => z)
            .FirstOrDefault();
    }

    internal static IReadOnlyList<NodeAction> Teardown(IEnumerable<ObservedNode> nodes)
    {
        var remove = nodes.Where(n => n.Container is not (ContainerState.Missing or ContainerState.ZoneUnreachable))
            .Select(n => (NodeAction)new RemoveContainer(n.NodeId)).ToList();
        return remove.Count > 0 ? remove : [new ReleaseAll()];
    }

    /// <summary>Ports first, then one running, answering container per node.</summary>
    internal static List<NodeAction> Containers(IReadOnlyList<DesiredNode> nodes, Func<DesiredNode, ObservedNode> seen, bool creating)
    {
        var steps = nodes.Where(n => n.Port is null).Select(n => (NodeAction)new AllocatePort(n.Id)).ToList();
        if (steps.Count > 0)
            return steps;

        var waits = new List<NodeAction>();
        foreach (var node in nodes)
        {
            var o = seen(node);
            switch (o.Container)
            {
                case ContainerState.Exited when creating:
                    return [new Fail($"Node {node.Id} exited with code {o.ExitCode} while starting")];
                case ContainerState.Exited:
                    steps.Add(new MarkNode(node.Id, NodeStatus.Failed, node.Role));
                    break;
                case ContainerState.Missing:
                    steps.Add(new StartContainer(node.Id));
                    break;
                case ContainerState.Outdated:
                    steps.Add(new RemoveContainer(node.Id));
                    break;
                case ContainerState.ZoneUnreachable when !o.Reachable:
                    waits.Add(new Wait($"the zone of node {node.Id} is unreachable"));
                    break;
                // Nor is one wired that lacks its group's client users (Redis) and cannot be given them in this
                // step: it missed its last probe, and it starts shut to clients.
                case ContainerState.Running or ContainerState.ZoneUnreachable when !o.Reachable || (!o.HoldsUsers && o.Stale):
                    waits.Add(new Wait($"node {node.Id} is starting"));
                    break;
            }
        }
        return steps.Count > 0 ? steps : waits;
    }

    /// <summary>The zone with the fewest of the placed nodes; OrderBy is stable, so among as few the first in the list wins.</summary>
    internal static string LeastUsedZone(IReadOnlyList<string> zones, List<string> placed) =>
        zones.OrderBy(z => placed.Count(p => p == z)).First();

    /// <summary>
    /// Nodes that run an outdated configuration are renewed (<paramref name="renewing"/>: "replacing",
    /// "rebooting") inside the maintenance window, or at once without one; outside it the renewal is
    /// scheduled for the window, once (nothing else scheduled yet), and the nodes keep serving as they are.
    /// </summary>
    internal static NodeAction? Refresh(IReadOnlyList<string> outdated, MaintenanceWindow? window, PendingChanges? scheduled, DateTimeOffset now, string renewing)
    {
        if (outdated.Count == 0)
            return null;
        var nodes = string.Join(", ", outdated);
        var at = MaintenancePlanner.WhenToApply(window, now, applyImmediately: false);
        if (at > now)
            return scheduled is null
                ? new ScheduleRefresh(outdated, at, $"Cache nodes {nodes} run an outdated configuration; {renewing} them waits for the maintenance window at {at:yyyy-MM-dd HH:mm} UTC")
                : null;
        return new StartRefresh(outdated, $"{char.ToUpperInvariant(renewing[0])}{renewing[1..]} cache nodes {nodes}: they run an outdated configuration");
    }

    /// <summary>A create that has only waited (on nodes starting, sync, gossip) for longer than the create timeout fails, saying what it waited for.</summary>
    internal static IReadOnlyList<NodeAction> UnlessTimedOut(IReadOnlyList<NodeAction> steps, DateTimeOffset createdAt, PlanContext context, DateTimeOffset now)
    {
        if (steps.Count == 0 || !steps.All(s => s is Wait or Hold) || context.CreateTimeout is not { } limit || now - createdAt <= limit)
            return steps;
        var why = steps[0] is Wait w ? w.Reason : ((Hold)steps[0]).Reason;
        return [new Fail($"Creation did not finish within {limit}: {why}")];
    }
}
